//! Qualify against a fake network and a fake core: the status rule (first result decides,
//! then 2 agreeing results in a row), what counts as an answer, the RTT a held status
//! keeps, where registered contacts are probed, `pjsip qualify`, and qualify turned off.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::*;
use crate::config::types::TransportProtocol;
use crate::location::{Binding, Entry};
use crate::sip::{StatusCode, response_to};
use crate::sorcery::{RefPolicy, Store};
use crate::testing::store;

const UNIX: u64 = 1_700_000_000;

const STATIC: &str = "sip:phone@192.0.2.20:5070";

/// Routes everything over UDP transport `udp` (or the one asked for) from 192.0.2.1:5060.
struct FakeNetwork;

impl Network for FakeNetwork {
    fn route(&self, transport: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)> {
        let mut flow = Flow::udp(transport.unwrap_or("udp"), remote);
        if transport == Some("tcp") {
            flow.protocol = TransportProtocol::Tcp;
        }
        Some((flow, "192.0.2.1:5060".parse().expect("address")))
    }
}

fn conf(aor_options: &str) -> String {
    format!(
        "[udp]\ntype=transport\nprotocol=udp\nbind=0.0.0.0\n\
         [alice]\ntype=endpoint\naors=alice\n\
         [alice]\ntype=aor\nmax_contacts=1\n{aor_options}\n"
    )
}

/// A probe the fake core sent: its id and request.
struct Sent {
    id: RequestId,
    flow: Flow,
    request: Request,
}

struct Harness {
    q: Qualifier,
    store: Store,
    location: Location,
    t0: Instant,
    next_id: u64,
    changes: Vec<StatusChange>,
}

impl Harness {
    fn new(text: &str) -> Self {
        Self {
            q: Qualifier::default(),
            store: store(text),
            location: Location::new(),
            t0: Instant::now(),
            next_id: 0,
            changes: Vec::new(),
        }
    }

    fn now(&self, ms: u64) -> Instant {
        self.t0 + Duration::from_millis(ms)
    }

    /// Looks at the schedule at `ms`; the probes sent are given ids.
    fn tick(&mut self, ms: u64) -> Vec<Sent> {
        let snap = self.store.snapshot();
        let sends = self.q.handle_timeout(
            self.now(ms),
            UNIX + ms / 1000,
            &snap,
            &self.location,
            &FakeNetwork,
            0,
            1,
            &mut self.changes,
        );
        sends
            .into_iter()
            .map(|s| {
                self.next_id += 1;
                let id = RequestId(self.next_id);
                self.q.sent(s.token, Some(id));
                Sent {
                    id,
                    flow: s.flow,
                    request: s.request,
                }
            })
            .collect()
    }

    /// The one probe sent at `ms`.
    fn probe(&mut self, ms: u64) -> Sent {
        let mut sent = self.tick(ms);
        assert_eq!(sent.len(), 1, "one probe at {ms} ms");
        sent.remove(0)
    }

    fn complete(&mut self, ms: u64, id: RequestId, outcome: Outcome) -> bool {
        let event = CoreEvent::Completed { id, outcome };
        self.q
            .on_event(self.now(ms), &event, &self.location, &mut self.changes)
    }

    fn answer(&mut self, ms: u64, probe: &Sent, code: u16) {
        let r = response_to(
            &probe.request,
            StatusCode::new(code).expect("code"),
            Some("x"),
        );
        assert!(self.complete(ms, probe.id, Outcome::Response(Box::new(r))));
    }

    /// One qualify cycle of a static contact probed every second: a probe at `s` seconds,
    /// answered 5 ms later (`answered`) or left to time out (seen at the next scan).
    fn cycle(&mut self, s: u64, answered: bool) {
        let p = self.probe(s * 1000);
        if answered {
            self.answer(s * 1000 + 5, &p, 200);
        }
    }

    fn static_status(&self) -> (Status, Option<Duration>) {
        self.location
            .static_status("alice", &ContactHash::of(STATIC))
            .expect("qualified")
    }

    fn statuses(&mut self) -> Vec<Status> {
        std::mem::take(&mut self.changes)
            .into_iter()
            .map(|c| c.status)
            .collect()
    }

    fn reload(&self, text: &str) {
        let next = store(text).snapshot();
        self.store
            .replace_file_objects(next.iter().map(|o| (**o).clone()), RefPolicy::Lenient)
            .expect("reload");
    }
}

fn static_aor(extra: &str) -> String {
    conf(&format!(
        "contact={STATIC}\nqualify_frequency=1\nqualify_timeout=0.5\n{extra}"
    ))
}

fn binding(uri: &str, source: &str) -> Binding {
    Binding {
        aor: "alice".into(),
        uri: uri.into(),
        registered_uri: uri.into(),
        hash: ContactHash::of(uri),
        expires_at: UNIX + 3600,
        path: Vec::new(),
        user_agent: "test".into(),
        endpoint: "alice".into(),
        via_addr: "10.0.0.5".into(),
        via_port: 5060,
        call_id: "reg-1".into(),
        cseq: 1,
        instance: None,
        reg_id: None,
        source: source.parse().expect("address"),
        transport: "udp".into(),
        protocol: "udp".into(),
        connection: None,
        prune_on_boot: false,
    }
}

fn register(h: &Harness, b: Binding) {
    h.location.update_aor("alice", UNIX, |entries, _| {
        entries.push(Entry::new(b, true))
    });
}

#[test]
fn the_first_answer_makes_a_contact_reachable_at_once() {
    let mut h = Harness::new(&static_aor(""));
    let p = h.probe(0);
    assert_eq!(p.request.uri.to_string(), STATIC);
    assert_eq!(p.flow.remote, "192.0.2.20:5070".parse().expect("address"));
    h.answer(12, &p, 200);
    let c = h.changes.first().expect("a change");
    assert_eq!((c.aor.as_str(), c.uri.as_str()), ("alice", STATIC));
    assert_eq!(c.status, Status::Reachable);
    assert_eq!(c.rtt, Some(Duration::from_millis(12)));
    assert_eq!(
        h.static_status(),
        (Status::Reachable, Some(Duration::from_millis(12)))
    );
}

#[test]
fn the_first_timeout_makes_a_contact_unreachable_at_once() {
    let mut h = Harness::new(&static_aor(""));
    let _lost = h.probe(0);
    // qualify_timeout=0.5: still in flight at 400 ms (no scan before 1 s anyway), over at the
    // next scan, which sends the next probe.
    assert!(h.tick(400).is_empty());
    assert!(h.changes.is_empty());
    assert_eq!(h.tick(1000).len(), 1);
    assert_eq!(h.statuses(), [Status::Unreachable]);
    assert_eq!(h.static_status(), (Status::Unreachable, None));
}

#[test]
fn one_miss_keeps_a_reachable_contact_reachable_two_in_a_row_do_not() {
    let mut h = Harness::new(&static_aor(""));
    h.cycle(0, true);
    assert_eq!(h.statuses(), [Status::Reachable]);
    // A single miss (seen at 2 s) changes nothing, and the RTT of the last answer stays.
    h.cycle(1, false);
    h.cycle(2, true);
    assert!(h.statuses().is_empty());
    assert_eq!(
        h.static_status(),
        (Status::Reachable, Some(Duration::from_millis(5)))
    );
    // The answer at 2 s reset the count: one more miss is again a single one.
    h.cycle(3, false);
    let _ = h.probe(4000);
    assert!(h.statuses().is_empty(), "one miss after an answer");
    assert_eq!(h.static_status().0, Status::Reachable);
    assert!(
        h.static_status().1.is_some(),
        "the held status keeps its RTT"
    );
    // The second miss in a row (seen at 5 s) does.
    let _ = h.probe(5000);
    assert_eq!(h.statuses(), [Status::Unreachable]);
    assert_eq!(h.static_status(), (Status::Unreachable, None));
}

#[test]
fn one_answer_keeps_an_unreachable_contact_unreachable_two_in_a_row_do_not() {
    let mut h = Harness::new(&static_aor(""));
    h.cycle(0, false);
    let p = h.probe(1000);
    assert_eq!(h.statuses(), [Status::Unreachable]);
    // A single stray answer changes nothing (and gives no RTT to an Unreachable contact).
    h.answer(1005, &p, 200);
    assert!(h.statuses().is_empty());
    assert_eq!(h.static_status(), (Status::Unreachable, None));
    // A miss resets the count.
    h.cycle(2, false);
    let p = h.probe(3000);
    assert!(h.statuses().is_empty());
    h.answer(3005, &p, 200);
    assert!(h.statuses().is_empty(), "one answer after a miss");
    // The second answer in a row does.
    h.cycle(4, true);
    assert_eq!(h.statuses(), [Status::Reachable]);
    assert_eq!(
        h.static_status(),
        (Status::Reachable, Some(Duration::from_millis(5)))
    );
}

#[test]
fn a_flapping_contact_changes_status_only_on_two_agreeing_results() {
    // The pattern testsuite/sipp/qualify-uas-flap.xml plays: 1, 2 answered, 3 missed, 4
    // answered, 5, 6 missed, 7 answered, 8 missed, 9, 10 answered.
    let mut h = Harness::new(&static_aor(""));
    let answered = [
        true, true, false, true, false, false, true, false, true, true,
    ];
    for (i, a) in answered.into_iter().enumerate() {
        h.cycle(i as u64, a);
    }
    assert_eq!(
        h.statuses(),
        [Status::Reachable, Status::Unreachable, Status::Reachable]
    );
}

#[test]
fn any_response_is_an_answer_unless_qualify_2xx_only() {
    for (extra, code, want) in [
        ("", 404, Status::Reachable),
        ("", 501, Status::Reachable),
        ("qualify_2xx_only=yes", 404, Status::Unreachable),
        ("qualify_2xx_only=yes", 200, Status::Reachable),
    ] {
        let mut h = Harness::new(&static_aor(extra));
        let p = h.probe(0);
        h.answer(5, &p, code);
        assert_eq!(h.statuses(), [want], "{code} with '{extra}'");
    }
    // A challenge nobody could answer comes from a live device too.
    for (extra, want) in [
        ("", Status::Reachable),
        ("qualify_2xx_only=yes", Status::Unreachable),
    ] {
        let mut h = Harness::new(&static_aor(extra));
        let p = h.probe(0);
        let r = response_to(&p.request, StatusCode::new(401).expect("code"), Some("x"));
        let failed = Outcome::AuthFailed {
            reason: "no outbound_auth".into(),
            response: Box::new(r),
        };
        assert!(h.complete(5, p.id, failed));
        assert_eq!(h.statuses(), [want], "401 with '{extra}'");
    }
}

#[test]
fn a_transport_error_is_a_miss() {
    let mut h = Harness::new(&static_aor(""));
    let p = h.probe(0);
    assert!(h.complete(1, p.id, Outcome::TransportError));
    assert_eq!(h.statuses(), [Status::Unreachable]);
}

#[test]
fn registered_contacts_are_probed_at_their_uri_over_their_transport() {
    let mut h = Harness::new(&conf("qualify_frequency=1\nqualify_timeout=0.5"));
    // Registered from behind a NAT without rewrite_contact: the URI says 10.0.0.5, the
    // packets came from 198.51.100.7:40000. Over UDP Asterisk sends to the URI (with
    // rewrite_contact the URI would be the source).
    let uri = "sip:alice@10.0.0.5:5060";
    register(&h, binding(uri, "198.51.100.7:40000"));
    let p = h.probe(0);
    assert_eq!(p.request.uri.to_string(), uri);
    assert_eq!(p.flow.remote, "10.0.0.5:5060".parse().expect("address"));
    assert_eq!(&*p.flow.transport, "udp");
    h.answer(7, &p, 200);
    assert_eq!(h.statuses(), [Status::Reachable]);
    let e = h.location.contacts("alice", UNIX).remove(0);
    assert_eq!(
        (e.status, e.rtt),
        (Status::Reachable, Some(Duration::from_millis(7)))
    );
    // The same rule as static ones: one miss holds the status and its RTT.
    let _lost = h.probe(1000);
    let _ = h.probe(2000);
    assert!(h.statuses().is_empty());
    let e = h.location.contacts("alice", UNIX).remove(0);
    assert_eq!(
        (e.status, e.rtt),
        (Status::Reachable, Some(Duration::from_millis(7)))
    );
}

#[test]
fn a_contact_is_probed_every_qualify_frequency_one_probe_at_a_time() {
    let mut h = Harness::new(&conf(&format!(
        "contact={STATIC}\nqualify_frequency=3\nqualify_timeout=10"
    )));
    let p = h.probe(0);
    // Still in flight at the next due time: no second probe on top.
    assert!(h.tick(1000).is_empty());
    assert!(h.tick(3000).is_empty());
    h.answer(3500, &p, 200);
    // Due again (3 s after the last send), at the next scan.
    let _ = h.probe(4000);
    assert!(h.tick(5000).is_empty());
}

#[test]
fn pjsip_qualify_probes_at_once() {
    let mut h = Harness::new(&conf(&format!("contact={STATIC}\nqualify_frequency=300")));
    let p = h.probe(0);
    h.answer(5, &p, 200);
    assert!(h.tick(10_000).is_empty(), "not due for 300 s");
    h.q.force(["alice".to_string()], h.now(10_500));
    assert_eq!(h.q.poll_timeout(), Some(h.now(10_500)));
    let p = h.probe(10_500);
    h.answer(10_510, &p, 200);
    assert!(h.tick(12_000).is_empty(), "once");
}

#[test]
fn turning_qualify_off_makes_contacts_nonqualified_and_drops_their_probes() {
    let mut h = Harness::new(&static_aor(""));
    let uri = "sip:alice@10.0.0.5:5060";
    register(&h, binding(uri, "198.51.100.7:40000"));
    let sent = h.tick(0);
    assert_eq!(sent.len(), 2);
    for p in &sent {
        h.answer(5, p, 200);
    }
    assert_eq!(h.statuses(), [Status::Reachable, Status::Reachable]);
    let in_flight = h.tick(1000);
    assert_eq!(in_flight.len(), 2);
    h.reload(&conf(&format!("contact={STATIC}\nqualify_frequency=0")));
    assert!(h.tick(2000).is_empty());
    assert_eq!(h.static_status(), (Status::NonQualified, None));
    let e = h.location.contacts("alice", UNIX).remove(0);
    assert_eq!((e.status, e.rtt), (Status::NonQualified, None));
    // The answers to the probes sent before are not theirs any more.
    for p in &in_flight {
        let r = response_to(&p.request, StatusCode::new(200).expect("code"), None);
        assert!(!h.complete(2100, p.id, Outcome::Response(Box::new(r))));
    }
    assert_eq!(h.static_status().0, Status::NonQualified);
    assert!(h.statuses().is_empty());
    assert_eq!(h.q.poll_timeout(), None, "nothing left to do");
    // On again: the first result decides.
    h.reload(&static_aor(""));
    let sent = h.tick(3000);
    assert_eq!(sent.len(), 2);
    for p in &sent {
        h.answer(3005, p, 404);
    }
    assert_eq!(h.statuses(), [Status::Reachable, Status::Reachable]);
}

#[test]
fn qualify_timeout_ends_a_probe_at_that_moment_not_at_the_next_scan() {
    let mut h = Harness::new(&static_aor(""));
    let p = h.probe(0);
    // qualify_timeout=0.5: the queue is woken then.
    assert_eq!(h.q.poll_timeout(), Some(h.now(500)));
    assert!(h.tick(500).is_empty(), "the next probe waits for the scan");
    assert_eq!(h.statuses(), [Status::Unreachable]);
    // Its answer, later, is nobody's.
    let r = response_to(&p.request, StatusCode::new(200).expect("code"), None);
    assert!(!h.complete(700, p.id, Outcome::Response(Box::new(r))));
    assert_eq!(h.static_status(), (Status::Unreachable, None));
    assert_eq!(h.q.poll_timeout(), Some(h.now(1000)));
    let _ = h.probe(1000);
}

#[test]
fn an_answer_after_qualify_timeout_is_a_miss() {
    // Answered at 700 ms, handled before the queue's timer looked at the 500 ms deadline.
    let mut h = Harness::new(&static_aor(""));
    let p = h.probe(0);
    let r = response_to(&p.request, StatusCode::new(200).expect("code"), None);
    assert!(h.complete(700, p.id, Outcome::Response(Box::new(r))));
    assert_eq!(h.statuses(), [Status::Unreachable]);
    // At the deadline exactly it still counts.
    let mut h = Harness::new(&static_aor(""));
    let p = h.probe(0);
    h.answer(500, &p, 200);
    assert_eq!(h.statuses(), [Status::Reachable]);
}
