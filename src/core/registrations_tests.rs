//! A queue's outbound registrations against a fake network and a fake `send` (the core's
//! `send_request`): configuration reconciled, REGISTERs sent with their auths, outcomes
//! routed back, commands, shutdown, and what the CLI's shared states show.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::registrations::*;
use super::{CoreEvent, Outcome, RequestId};
use crate::config::types::{Auth, TransportProtocol};
use crate::outreg::{State, Status};
use crate::sip::{HeaderName, Request, StatusCode, response_to};
use crate::sorcery::{RefPolicy, Store};
use crate::testing::store;
use crate::transport::Flow;

const UNIX: u64 = 1_700_000_000;

const BASE: &str = "[trunk-auth]\ntype=auth\nusername=pbx\npassword=secret\nrealm=carrier\n\
    [udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n\
    [tcp]\ntype=transport\nprotocol=tcp\nbind=0.0.0.0\n";

fn registration(name: &str, extra: &str) -> String {
    format!(
        "[{name}]\ntype=registration\nserver_uri=sip:192.0.2.10\nclient_uri=sip:{name}@192.0.2.10\n\
         outbound_auth=trunk-auth\n{extra}"
    )
}

/// Reloads `store` with `text`, as `pjsip reload` does (the generation advances).
fn reload(store: &Store, text: &str) {
    let next = crate::testing::store(text).snapshot();
    store
        .replace_file_objects(next.iter().map(|o| (**o).clone()), RefPolicy::Lenient)
        .expect("reload");
}

/// Routes everything over UDP transport `udp` from 192.0.2.1:5060 (or nothing).
struct FakeNetwork {
    reachable: bool,
}

impl Network for FakeNetwork {
    fn route(&self, transport: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)> {
        if !self.reachable {
            return None;
        }
        let mut flow = Flow::udp(transport.unwrap_or("udp"), remote);
        if transport == Some("tcp") {
            flow.protocol = TransportProtocol::Tcp;
        }
        Some((flow, "192.0.2.1:5060".parse().expect("address")))
    }

    fn resolve(&self, host: &str) -> Option<std::net::IpAddr> {
        (host == "sip.carrier.example").then(|| [192, 0, 2, 40].into())
    }
}

/// What the fake `send` was given.
#[derive(Default)]
struct Sent {
    requests: Vec<(RequestId, Flow, Request, Vec<Auth>)>,
    next: u64,
}

impl Sent {
    fn send(&mut self, flow: Flow, request: Request, auths: Vec<Auth>) -> Option<RequestId> {
        self.next += 1;
        let id = RequestId(self.next);
        self.requests.push((id, flow, request, auths));
        Some(id)
    }

    fn take(&mut self) -> Vec<(RequestId, Flow, Request, Vec<Auth>)> {
        std::mem::take(&mut self.requests)
    }
}

struct Harness {
    regs: OutRegs,
    store: Store,
    sent: Arc<Mutex<Sent>>,
    t0: Instant,
}

impl Harness {
    fn new(text: &str) -> Self {
        Self::with(text, 0, 1, true)
    }

    fn with(text: &str, queue: usize, queues: usize, reachable: bool) -> Self {
        let states = Arc::new(RegistrationStates::default());
        let regs = OutRegs::new(
            queue,
            queues,
            states,
            Arc::new(FakeNetwork { reachable }),
            42,
        );
        let mut h = Self {
            regs,
            store: store(text),
            sent: Arc::default(),
            t0: Instant::now(),
        };
        h.reconcile(0);
        h
    }

    fn now(&self, secs: u64) -> Instant {
        self.t0 + Duration::from_secs(secs)
    }

    fn reconcile(&mut self, secs: u64) {
        let snap = self.store.snapshot();
        self.regs.reconcile(self.now(secs), UNIX + secs, &snap);
    }

    /// Runs the timers at `secs` and returns what was sent.
    fn tick(&mut self, secs: u64) -> Vec<(RequestId, Flow, Request, Vec<Auth>)> {
        let snap = self.store.snapshot();
        let sent = self.sent.clone();
        let mut send = |f: Flow, r: Request, a: Vec<Auth>| sent.lock().expect("lock").send(f, r, a);
        self.regs
            .handle_timeout(self.now(secs), UNIX + secs, &snap, &mut send);
        self.sent.lock().expect("lock").take()
    }

    /// Runs every timer up to `secs` (the random first delays are at most 10 s).
    fn until(&mut self, secs: u64) -> Vec<(RequestId, Flow, Request, Vec<Auth>)> {
        let mut out = Vec::new();
        while let Some(at) = self.regs.poll_timeout() {
            if at > self.now(secs) {
                break;
            }
            let s = (at - self.t0).as_secs_f64().ceil() as u64;
            out.extend(self.tick(s));
        }
        out
    }

    fn answer(
        &mut self,
        secs: u64,
        id: RequestId,
        request: &Request,
        code: u16,
        extra: &[(&str, &str)],
    ) {
        let mut r = response_to(request, StatusCode::new(code).expect("code"), Some("x"));
        for (n, v) in extra {
            r.headers.push(HeaderName::new(n), v.to_string());
        }
        let event = CoreEvent::Completed {
            id,
            outcome: Outcome::Response(Box::new(r)),
        };
        assert!(self.regs.on_event(self.now(secs), UNIX + secs, &event));
    }

    fn state(&self, name: &str) -> RegistrationState {
        self.regs.states().get(name).expect("published")
    }
}

fn expires(r: &Request) -> Option<u32> {
    r.headers.expires().ok().flatten()
}

#[test]
fn owner_is_a_stable_hash_of_the_name() {
    assert_eq!(owner("trunk", 1), 0);
    assert_eq!(owner("trunk", 0), 0);
    assert_eq!(owner("trunk", 8), owner("trunk", 8));
    // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c.
    assert_eq!(
        owner("a", 1000),
        (0xaf63_dc4c_8601_ec8c_u64 % 1000) as usize
    );
    let mut used = [0usize; 4];
    for i in 0..400 {
        used[owner(&format!("trunk-{i}"), 4)] += 1;
    }
    assert!(used.iter().all(|&n| n > 50), "{used:?}");
}

#[test]
fn only_the_owned_registrations_are_started() {
    let names: Vec<String> = (0..6).map(|i| format!("t{i}")).collect();
    let text: String = BASE.to_string()
        + &names
            .iter()
            .map(|n| registration(n, ""))
            .collect::<String>();
    for queue in 0..2 {
        let h = Harness::with(&text, queue, 2, true);
        for n in &names {
            assert_eq!(
                h.regs.get(n).is_some(),
                owner(n, 2) == queue,
                "{n} on queue {queue}"
            );
        }
    }
}

#[test]
fn a_started_registration_is_published_with_its_first_attempt() {
    let h = Harness::new(&(BASE.to_string() + &registration("trunk", "")));
    let s = h.state("trunk");
    assert_eq!(s.status, Status::Unregistered);
    assert_eq!(s.server_uri, "sip:192.0.2.10");
    assert_eq!(s.client_uri, "sip:trunk@192.0.2.10");
    assert_eq!(s.auth, "trunk-auth");
    let next = s.next_attempt_unix.expect("scheduled");
    assert!((UNIX + 1..=UNIX + 10).contains(&next), "{next}");
    assert_eq!(s.last_code, None);
}

#[test]
fn the_register_goes_out_with_its_auths_and_the_ok_registers() {
    let mut h = Harness::new(&(BASE.to_string() + &registration("trunk", "")));
    assert!(h.tick(0).is_empty(), "not before the random delay");
    let sent = h.until(10);
    assert_eq!(sent.len(), 1);
    let (id, flow, request, auths) = &sent[0];
    assert_eq!(flow.remote.to_string(), "192.0.2.10:5060");
    assert_eq!(&*flow.transport, "udp");
    assert_eq!(
        auths.len(),
        1,
        "outbound_auth for the core's challenge answers"
    );
    assert_eq!(expires(request), Some(3600));
    let contact = request.headers.get(&HeaderName::Contact).expect("Contact");
    assert_eq!(&contact[..], b"<sip:s@192.0.2.1:5060>");
    h.answer(10, *id, request, 200, &[("Expires", "600")]);
    let s = h.state("trunk");
    assert_eq!(s.status, Status::Registered);
    assert_eq!(s.granted_expires, Some(600));
    assert_eq!(s.last_code, Some(200));
    assert_eq!(s.next_attempt_unix, Some(UNIX + 10 + 590));
    assert_eq!(h.regs.poll_timeout(), Some(h.now(600)));
    // Another queue's or a qualify's outcome is not ours.
    let other = CoreEvent::Completed {
        id: RequestId(999),
        outcome: Outcome::Timeout,
    };
    assert!(!h.regs.on_event(h.now(11), UNIX + 11, &other));
    // The refresh.
    let refresh = h.tick(600);
    assert_eq!(refresh.len(), 1);
    assert_eq!(expires(&refresh[0].2), Some(3600));
}

/// A harness whose first REGISTER (at 10 s) was answered 200.
fn registered(text: &str) -> Harness {
    let mut h = Harness::new(text);
    let sent = h.until(10);
    let (id, _, request, _) = &sent[0];
    h.answer(10, *id, request, 200, &[]);
    h
}

#[test]
fn an_unchanged_reload_keeps_the_registration() {
    let text = BASE.to_string() + &registration("trunk", "");
    let mut h = registered(&text);
    reload(
        &h.store,
        &(text.clone() + "[other-auth]\ntype=auth\nusername=x\npassword=y\n"),
    );
    h.reconcile(20);
    assert!(h.tick(20).is_empty());
    assert_eq!(h.state("trunk").status, Status::Registered);
}

#[test]
fn a_changed_registration_unregisters_the_old_and_starts_the_new() {
    let text = BASE.to_string() + &registration("trunk", "");
    let mut h = Harness::new(&text);
    let sent = h.until(10);
    let (id, _, request, _) = &sent[0];
    h.answer(10, *id, request, 200, &[]);
    reload(
        &h.store,
        &(BASE.to_string() + &registration("trunk", "expiration=120\n")),
    );
    h.reconcile(20);
    assert_eq!(h.state("trunk").status, Status::Unregistered, "the new one");
    let un = h.tick(20);
    assert_eq!(un.len(), 1, "the old one's un-REGISTER at once");
    assert_eq!(expires(&un[0].2), Some(0));
    assert_eq!(un[0].2.headers.call_id(), request.headers.call_id());
    h.answer(20, un[0].0, &un[0].2, 200, &[]);
    let new = h.until(30);
    assert_eq!(new.len(), 1, "the new one after its random delay");
    assert_eq!(expires(&new[0].2), Some(120));
    assert_ne!(new[0].2.headers.call_id(), request.headers.call_id());
}

#[test]
fn a_changed_auth_restarts_the_registrations_using_it() {
    let text = BASE.to_string() + &registration("trunk", "");
    let mut h = Harness::new(&text);
    let sent = h.until(10);
    h.answer(10, sent[0].0, &sent[0].2, 200, &[]);
    reload(
        &h.store,
        &text.replace("password=secret", "password=changed"),
    );
    h.reconcile(20);
    let un = h.tick(20);
    assert_eq!(un.len(), 1);
    assert_eq!(expires(&un[0].2), Some(0));
}

#[test]
fn a_deleted_registration_unregisters_and_disappears() {
    let mut h = Harness::new(&(BASE.to_string() + &registration("trunk", "")));
    let sent = h.until(10);
    h.answer(10, sent[0].0, &sent[0].2, 200, &[]);
    reload(&h.store, BASE);
    h.reconcile(20);
    assert!(h.regs.states().get("trunk").is_none(), "no longer listed");
    let un = h.tick(20);
    assert_eq!(un.len(), 1);
    assert_eq!(expires(&un[0].2), Some(0));
    assert!(!h.regs.is_empty());
    h.answer(20, un[0].0, &un[0].2, 200, &[]);
    assert!(h.regs.is_empty());
    assert_eq!(h.regs.poll_timeout(), None);
}

#[test]
fn commands_register_and_unregister_by_name_and_all() {
    let text = BASE.to_string() + &registration("a", "") + &registration("b", "");
    let mut h = Harness::new(&text);
    for (id, _, r, _) in h.until(10) {
        h.answer(10, id, &r, 200, &[]);
    }
    let now = h.now(20);
    assert_eq!(
        h.regs
            .command(now, UNIX + 20, &OutRegCommand::Unregister("a".into())),
        1
    );
    assert_eq!(h.regs.poll_timeout(), Some(now));
    let un = h.tick(20);
    assert_eq!(un.len(), 1);
    assert_eq!(expires(&un[0].2), Some(0));
    h.answer(20, un[0].0, &un[0].2, 200, &[]);
    assert_eq!(h.state("a").status, Status::Unregistered);
    assert_eq!(h.state("a").next_attempt_unix, None);
    assert_eq!(h.state("b").status, Status::Registered);
    assert_eq!(
        h.regs
            .command(now, UNIX + 20, &OutRegCommand::Register("*all".into())),
        2
    );
    let sent = h.tick(20);
    let mut expiries: Vec<Option<u32>> = sent.iter().map(|s| expires(&s.2)).collect();
    expiries.sort();
    assert_eq!(
        expiries,
        vec![Some(0), Some(3600)],
        "b unregisters first, a registers"
    );
    assert_eq!(
        h.regs
            .command(now, UNIX + 20, &OutRegCommand::Register("nope".into())),
        0
    );
}

#[test]
fn shutdown_unregisters_the_registered_ones_at_once() {
    let text = BASE.to_string() + &registration("a", "") + &registration("b", "");
    let mut h = Harness::new(&text);
    let sent = h.until(10);
    let a = sent
        .iter()
        .find(|s| {
            s.2.uri.to_string() == "sip:192.0.2.10"
                && s.2
                    .headers
                    .from()
                    .is_ok_and(|f| f.uri.to_string().starts_with("sip:a@"))
        })
        .expect("a's REGISTER");
    h.answer(10, a.0, &a.2, 200, &[]);
    let b = sent.iter().find(|s| s.0 != a.0).expect("b's REGISTER");
    h.answer(10, b.0, &b.2, 503, &[]);
    let snap = h.store.snapshot();
    let sent_now = h.sent.clone();
    let mut send = |f: Flow, r: Request, x: Vec<Auth>| sent_now.lock().expect("lock").send(f, r, x);
    h.regs.shutdown(h.now(30), UNIX + 30, &snap, &mut send);
    let un = h.sent.lock().expect("lock").take();
    assert_eq!(un.len(), 1, "only the registered one");
    assert_eq!(expires(&un[0].2), Some(0));
    assert!(h.regs.states().all().is_empty());
    assert!(!h.regs.is_empty());
    let timeout = CoreEvent::Completed {
        id: un[0].0,
        outcome: Outcome::Timeout,
    };
    assert!(h.regs.on_event(h.now(62), UNIX + 62, &timeout));
    assert!(h.regs.is_empty());
}

#[test]
fn a_host_name_is_sent_to_where_the_daemon_resolved_it() {
    let text = BASE.to_string()
        + "[trunk]\ntype=registration\nserver_uri=sip:sip.carrier.example:5070\n\
           client_uri=sip:pbx@carrier.example\n";
    let mut h = Harness::new(&text);
    let sent = h.until(20);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.remote.to_string(), "192.0.2.40:5070");
    assert_eq!(sent[0].2.uri.to_string(), "sip:sip.carrier.example:5070");
}

#[test]
fn a_host_name_that_did_not_resolve_is_retried_not_rejected() {
    let text = BASE.to_string()
        + "[trunk]\ntype=registration\nserver_uri=sip:nowhere.example\n\
           client_uri=sip:pbx@carrier.example\n";
    let mut h = Harness::new(&text);
    assert_ne!(h.state("trunk").state, State::RejectedPermanent);
    assert!(h.until(30).is_empty());
    assert_eq!(h.state("trunk").state, State::RejectedTemporary);
    // An outbound proxy with an address reaches it.
    reload(
        &h.store,
        &(text.clone() + "outbound_proxy=sip:192.0.2.30\n"),
    );
    h.reconcile(100);
    let sent = h.until(110);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.remote.to_string(), "192.0.2.30:5060");
    assert_eq!(sent[0].2.uri.to_string(), "sip:nowhere.example");
}

#[test]
fn a_tcp_registration_goes_over_tcp_and_tls_stays_unregistered() {
    // Named transport.
    let mut h = Harness::new(&(BASE.to_string() + &registration("trunk", "transport=tcp\n")));
    let sent = h.until(20);
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].1.protocol, TransportProtocol::Tcp);
    assert!(
        sent[0]
            .2
            .headers
            .get(&crate::sip::HeaderName::Via)
            .is_some_and(|v| v.starts_with(b"SIP/2.0/TCP "))
    );
    // `;transport=tcp` in server_uri: the first TCP transport.
    let mut h = Harness::new(
        &(BASE.to_string()
            + "[trunk]\ntype=registration\nserver_uri=sip:192.0.2.10\\;transport=tcp\n\
               client_uri=sip:pbx@192.0.2.10\n"),
    );
    let sent = h.until(20);
    assert_eq!(sent.len(), 1);
    assert_eq!(&*sent[0].1.transport, "tcp");
    // TLS is not there yet.
    let mut h = Harness::new(
        &(BASE.to_string()
            + "[trunk]\ntype=registration\nserver_uri=sips:192.0.2.10\n\
               client_uri=sips:pbx@192.0.2.10\n"),
    );
    assert!(h.until(100).is_empty());
    assert_eq!(h.state("trunk").state, State::Unregistered);
}

#[test]
fn no_route_is_a_transport_error_retried_later() {
    let mut h = Harness::with(
        &(BASE.to_string() + &registration("trunk", "")),
        0,
        1,
        false,
    );
    assert!(h.until(10).is_empty());
    let s = h.state("trunk");
    assert_eq!(s.state, State::RejectedTemporary);
    assert_eq!(s.last_code, Some(503));
    let next = s.next_attempt_unix.expect("retry");
    assert!((UNIX + 61..=UNIX + 70).contains(&next), "{next}");
}

#[test]
fn the_line_token_is_published_for_identification() {
    let text = BASE.to_string()
        + "[carrier]\ntype=endpoint\n"
        + &registration("trunk", "line=yes\nendpoint=carrier\n");
    let mut h = Harness::new(&text);
    let token = h.state("trunk").line.expect("line token");
    assert_eq!(
        h.regs.states().by_line(&token),
        Some(("trunk".to_string(), "carrier".to_string()))
    );
    let sent = h.until(10);
    let contact = sent[0]
        .2
        .headers
        .get(&HeaderName::Contact)
        .expect("Contact");
    assert!(String::from_utf8_lossy(contact).contains(&format!(";line={token}")));
}

#[test]
fn a_register_through_the_real_core_answers_the_challenge_and_refreshes_above_its_cseq() {
    use crate::auth::{DigestCredentials, NonceKey, Verdict, Verifier};
    use crate::config::types::{Kind, Object};
    use crate::sip::Message;
    use crate::tsx::TimerConfig;

    let mut h = Harness::new(&(BASE.to_string() + &registration("trunk", "")));
    let snap = h.store.snapshot();
    let correct = match snap.get(Kind::Auth, "trunk-auth").map(|o| &o.object) {
        Some(Object::Auth(a)) => a.clone(),
        other => panic!("{other:?}"),
    };
    let mut uas = Verifier::new(NonceKey::from_bytes([2; 32]), "carrier");
    let mut core = super::Core::new(TimerConfig::default(), NonceKey::from_bytes([1; 32]), 3);
    let ip = "192.0.2.1".parse().expect("ip");
    let now = h.regs.poll_timeout().expect("scheduled");
    let mut send = |f: Flow, r: Request, a: Vec<Auth>| core.send_request(now, f, r, a);
    h.regs.handle_timeout(now, UNIX, &snap, &mut send);
    let wire = |core: &mut super::Core| -> (Flow, Request) {
        let t = core.poll_transmit().expect("sent");
        match Message::parse(t.bytes) {
            Ok(Message::Request(r)) => (t.flow, r),
            other => panic!("{other:?}"),
        }
    };
    let (flow, first) = wire(&mut core);
    assert_eq!(flow.remote.to_string(), "192.0.2.10:5060");
    assert!(first.headers.get(&HeaderName::Authorization).is_none());
    let mut challenge = response_to(&first, StatusCode::new(401).expect("401"), Some("uas"));
    for c in uas.challenge_all(&[&correct], None, UNIX, ip, false) {
        challenge
            .headers
            .push(HeaderName::WwwAuthenticate, c.to_string());
    }
    core.handle_message(now, UNIX, &snap, flow.clone(), Message::Response(challenge));
    let (_, second) = wire(&mut core);
    assert_eq!(second.headers.cseq().expect("CSeq").seq, 2);
    let creds: DigestCredentials = std::str::from_utf8(
        second
            .headers
            .get(&HeaderName::Authorization)
            .expect("Authorization"),
    )
    .expect("text")
    .parse()
    .expect("credentials");
    assert!(matches!(
        uas.verify("REGISTER", &creds, &[&correct], None, UNIX, ip),
        Verdict::Accepted { .. }
    ));
    let mut ok = response_to(&second, StatusCode::new(200).expect("200"), Some("uas"));
    ok.headers.push(HeaderName::Expires, "120");
    core.handle_message(now, UNIX, &snap, flow, Message::Response(ok));
    let event = core.poll_event().expect("outcome");
    assert!(h.regs.on_event(now, UNIX, &event));
    assert_eq!(h.state("trunk").status, Status::Registered);
    let refresh_at = h.regs.poll_timeout().expect("refresh");
    assert_eq!(refresh_at, now + Duration::from_secs(110));
    let mut send = |f: Flow, r: Request, a: Vec<Auth>| core.send_request(refresh_at, f, r, a);
    h.regs
        .handle_timeout(refresh_at, UNIX + 110, &snap, &mut send);
    let (_, refresh) = wire(&mut core);
    assert_eq!(
        refresh.headers.cseq().expect("CSeq").seq,
        3,
        "above the core's retry"
    );
    assert_eq!(refresh.headers.call_id(), first.headers.call_id());
}
