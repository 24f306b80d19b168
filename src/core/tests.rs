//! The core on real messages and a real configuration, without sockets.

use super::*;
use crate::auth::{ChallengeKind, ClientAuth, DigestChallenge};
use crate::distributor::{Distributor, Route};
use crate::testing::snapshot;
use crate::transport::Received;
use arc_swap::ArcSwap;
use bytes::Bytes;

const CONF: &str = "
[trunk]
type=endpoint
[trunk-id]
type=identify
endpoint=trunk
match=192.0.2.50
[alice]
type=endpoint
auth=alice
[alice]
type=auth
username=alice
password=wonderland
";

fn options(from_user: &str, branch: &str, extra: &str) -> Bytes {
    Bytes::from(format!(
        "OPTIONS sip:192.0.2.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5062;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{from_user}@example.com>;tag=ft\r\n\
         To: <sip:pbx@192.0.2.1>\r\n\
         Call-ID: {branch}@192.0.2.9\r\n\
         CSeq: 1 OPTIONS\r\n\
         {extra}Content-Length: 0\r\n\r\n"
    ))
}

fn rx(source: &str, bytes: Bytes) -> Received {
    let source = source
        .parse()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    Received {
        flow: Flow::udp("transport-udp", source),
        bytes,
    }
}

impl Core {
    /// The daemon's path for one datagram: the distributor, then this core.
    fn handle_received(&mut self, now: Instant, unix_now: u64, snapshot: &Snapshot, rx: Received) {
        match Distributor::new(1, 0).route(rx) {
            Route::Queue { flow, message, .. } => {
                self.handle_message(now, unix_now, snapshot, flow, message)
            }
            Route::Reply(t) => self.out.push_back(t),
            Route::Dropped(_) => {}
        }
    }
}

fn core() -> Core {
    Core::new(TimerConfig::default(), NonceKey::from_bytes([7; 32]), 1)
}

fn answers(core: &mut Core) -> Vec<(SocketAddr, Message)> {
    std::iter::from_fn(|| core.poll_transmit())
        .filter_map(|t| Message::parse(t.bytes).ok().map(|m| (t.flow.remote, m)))
        .collect()
}

fn status(m: &Message) -> u16 {
    m.as_response().map_or(0, |r| r.status.code())
}

#[test]
fn options_from_an_identified_endpoint_without_auth_gets_200_with_allow() {
    let snap = snapshot(CONF);
    let mut core = core();
    core.handle_received(
        Instant::now(),
        1_700_000_000,
        &snap,
        rx("192.0.2.50:5060", options("x", "z9hG4bK1", "")),
    );
    let out = answers(&mut core);
    assert_eq!(out.len(), 1);
    let (dest, msg) = &out[0];
    assert_eq!(
        dest.to_string(),
        "192.0.2.50:5060",
        "replies go to the source"
    );
    assert_eq!(status(msg), 200);
    assert!(msg.headers().get(&HeaderName::Allow).is_some());
    assert!(msg.headers().get(&HeaderName::Accept).is_some());
}

#[test]
fn unknown_and_known_users_get_the_same_401_and_the_right_password_gets_in() {
    let snap = snapshot(CONF);
    let mut core = core();
    let now = Instant::now();
    core.handle_received(
        now,
        1_700_000_000,
        &snap,
        rx("192.0.2.9:5062", options("mallory", "z9hG4bKu", "")),
    );
    core.handle_received(
        now,
        1_700_000_000,
        &snap,
        rx("192.0.2.9:5062", options("alice", "z9hG4bKk", "")),
    );
    let out = answers(&mut core);
    assert_eq!(
        out.iter().map(|(_, m)| status(m)).collect::<Vec<_>>(),
        vec![401, 401]
    );
    let header_names = |m: &Message| {
        m.headers()
            .iter()
            .map(|(n, _)| n.as_str().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(header_names(&out[0].1), header_names(&out[1].1));
    // Answer alice's challenge.
    let challenge_text = out[1]
        .1
        .headers()
        .get(&HeaderName::WwwAuthenticate)
        .map(|v| String::from_utf8_lossy(v).to_string())
        .unwrap_or_default();
    let challenge: DigestChallenge = match challenge_text.parse() {
        Ok(c) => c,
        Err(e) => panic!("{e}: {challenge_text}"),
    };
    let mut client = ClientAuth::new();
    let auth = crate::config::types::Auth {
        username: "alice".into(),
        password: "wonderland".into(),
        ..Default::default()
    };
    let creds = match client.respond(
        ChallengeKind::Www,
        &[challenge],
        &[&auth],
        "OPTIONS",
        "sip:pbx@192.0.2.1",
    ) {
        Ok(c) => c,
        Err(e) => panic!("{e}"),
    };
    let header: String = creds
        .iter()
        .map(|h| format!("Authorization: {}\r\n", h.credentials))
        .collect();
    core.handle_received(
        now,
        1_700_000_001,
        &snap,
        rx("192.0.2.9:5062", options("alice", "z9hG4bKk2", &header)),
    );
    let out = answers(&mut core);
    assert_eq!(
        out.iter().map(|(_, m)| status(m)).collect::<Vec<_>>(),
        vec![200]
    );
    assert_eq!(core.stats().unidentified, 1);
}

#[test]
fn unsupported_scheme_gets_416_and_garbage_is_dropped() {
    let snap = snapshot(CONF);
    let mut core = core();
    let text = String::from_utf8_lossy(&options("x", "z9hG4bKs", ""))
        .replace("OPTIONS sip:192.0.2.1", "OPTIONS mailto:pbx@192.0.2.1");
    core.handle_received(
        Instant::now(),
        0,
        &snap,
        rx("192.0.2.50:5060", Bytes::from(text)),
    );
    core.handle_received(
        Instant::now(),
        0,
        &snap,
        rx("192.0.2.50:5060", Bytes::from_static(b"\x00\xffgarbage")),
    );
    let out = answers(&mut core);
    assert_eq!(
        out.iter().map(|(_, m)| status(m)).collect::<Vec<_>>(),
        vec![416]
    );
}

#[test]
fn routed_methods_without_a_usage_get_501_after_identification() {
    let snap = snapshot(CONF);
    let mut core = core();
    let text = String::from_utf8_lossy(&options("x", "z9hG4bKm", ""))
        .replace("OPTIONS sip:", "BYE sip:")
        .replace("1 OPTIONS", "1 BYE");
    core.handle_received(
        Instant::now(),
        0,
        &snap,
        rx("192.0.2.50:5060", Bytes::from(text)),
    );
    let out = answers(&mut core);
    assert_eq!(
        out.iter().map(|(_, m)| status(m)).collect::<Vec<_>>(),
        vec![501]
    );
}

fn with_tables(core: Core, dialplan: &str, acl_conf: &str) -> Core {
    use crate::config::ini::MemFs;
    let fs = MemFs::new()
        .with("/e.conf", dialplan.as_bytes().to_vec())
        .with("/acl.conf", acl_conf.as_bytes().to_vec());
    let dialplan = crate::dialplan::Dialplan::load(&fs, std::path::Path::new("/e.conf"))
        .expect("dialplan")
        .dialplan;
    let named_acls = NamedAcls::load(&fs, std::path::Path::new("/acl.conf"))
        .expect("acl.conf")
        .acls;
    core.with_tables(Arc::new(ArcSwap::from_pointee(Tables {
        named_acls,
        dialplan,
    })))
}

fn send(core: &mut Core, snap: &Snapshot, source: &str, bytes: Bytes) -> Vec<u16> {
    core.handle_received(Instant::now(), 1_700_000_000, snap, rx(source, bytes));
    answers(core).iter().map(|(_, m)| status(m)).collect()
}

#[test]
fn asterisk_5_3_options_to_an_extension_of_the_endpoint_context_only() {
    let snap = snapshot(&format!("{CONF}\n[trunk](+)\ncontext=from-trunk\n"));
    let mut core = with_tables(
        core(),
        "[from-trunk]\nexten => 100,1,NoOp()\nexten => _2XX,1,NoOp()\n",
        "",
    );
    let to = |user: &str, branch: &str| {
        Bytes::from(String::from_utf8_lossy(&options("x", branch, "")).replace(
            "OPTIONS sip:192.0.2.1",
            &format!("OPTIONS sip:{user}@192.0.2.1"),
        ))
    };
    assert_eq!(
        send(&mut core, &snap, "192.0.2.50:5060", to("100", "z9hG4bKe1")),
        vec![200]
    );
    assert_eq!(
        send(&mut core, &snap, "192.0.2.50:5060", to("250", "z9hG4bKe2")),
        vec![200]
    );
    assert_eq!(
        send(&mut core, &snap, "192.0.2.50:5060", to("999", "z9hG4bKe3")),
        vec![404]
    );
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.50:5060",
            options("x", "z9hG4bKe4", "")
        ),
        vec![200],
        "no user: the server itself"
    );
}

#[test]
fn asterisk_3_8_type_acl_denies_with_403_before_identification() {
    let conf = format!("{CONF}\n[office]\ntype=acl\ndeny=0.0.0.0/0\npermit=192.0.2.0/25\n");
    let snap = snapshot(&conf);
    let mut core = core();
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.50:5060",
            options("x", "z9hG4bKa1", "")
        ),
        vec![200]
    );
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.200:5060",
            options("x", "z9hG4bKa2", "")
        ),
        vec![403]
    );
}

#[test]
fn asterisk_3_8_contact_acl_denies_a_contact_host() {
    let conf = format!("{CONF}\n[office]\ntype=acl\ncontact_deny=198.51.100.0/24\n");
    let snap = snapshot(&conf);
    let mut core = core();
    let contact = "Contact: <sip:x@198.51.100.7:5060>\r\n";
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.50:5060",
            options("x", "z9hG4bKc1", contact)
        ),
        vec![403]
    );
}

#[test]
fn asterisk_4_4_endpoint_acl_failure_looks_like_an_unknown_sender() {
    let conf = format!("{CONF}\n[trunk](+)\nacl=office-only\n");
    let snap = snapshot(&conf);
    let mut core = with_tables(
        core(),
        "",
        "[office-only]\ndeny=0.0.0.0/0\npermit=192.0.2.0/24\n",
    );
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.50:5060",
            options("x", "z9hG4bKn1", "")
        ),
        vec![200]
    );
    let snap = snapshot(&format!("{CONF}\n[trunk](+)\nacl=elsewhere\n"));
    assert_eq!(
        send(
            &mut core,
            &snap,
            "192.0.2.50:5060",
            options("x", "z9hG4bKn2", "")
        ),
        vec![401],
        "an undefined named ACL denies"
    );
}

#[test]
fn rfc3261_8_2_7_out_of_dialog_options_is_answered_statelessly_and_identically() {
    let snap = snapshot(CONF);
    let mut core = core();
    let send = |core: &mut Core| {
        core.handle_received(
            Instant::now(),
            1_700_000_000,
            &snap,
            rx("192.0.2.50:5060", options("x", "z9hG4bKst", "")),
        );
        std::iter::from_fn(|| core.poll_transmit())
            .map(|t| t.bytes)
            .collect::<Vec<_>>()
    };
    let first = send(&mut core);
    assert_eq!(first.len(), 1);
    assert!(first[0].starts_with(b"SIP/2.0 200 OK"));
    assert_eq!(core.poll_timeout(), None, "no transaction, no timer kept");
    let again = send(&mut core);
    assert_eq!(
        again, first,
        "a retransmission gets the same answer, To tag included"
    );
    assert_eq!(core.stats().stateless, 2);
}

#[test]
fn rfc3261_17_2_2_a_retransmitted_register_gets_the_challenge_it_was_given() {
    // Answered late (over T1), a REGISTER is retransmitted; a second challenge with
    // another nonce would be a new response to a client that already answered the first.
    let snap = snapshot(CONF);
    let mut core = core();
    let register = Bytes::from_static(
        b"REGISTER sip:192.0.2.1 SIP/2.0\r\n\
          Via: SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bKreg1;rport\r\n\
          Max-Forwards: 70\r\n\
          From: <sip:alice@192.0.2.1>;tag=rt\r\n\
          To: <sip:alice@192.0.2.1>\r\n\
          Call-ID: reg1@192.0.2.9\r\n\
          CSeq: 1 REGISTER\r\n\
          Contact: <sip:alice@192.0.2.9:5062>\r\n\
          Content-Length: 0\r\n\r\n",
    );
    let t0 = Instant::now();
    let mut send = |at: Instant, unix: u64| {
        core.handle_received(at, unix, &snap, rx("192.0.2.9:5062", register.clone()));
        std::iter::from_fn(|| core.poll_transmit())
            .map(|t| t.bytes)
            .collect::<Vec<_>>()
    };
    let first = send(t0, 1_700_000_000);
    assert_eq!(first.len(), 1);
    assert!(first[0].starts_with(b"SIP/2.0 401 Unauthorized"));
    let again = send(t0 + Duration::from_millis(600), 1_700_000_001);
    assert_eq!(again, first, "the same bytes, nonce and To tag included");
    // After the 64·T1 a transaction would have lived, it is a new request.
    let later = send(t0 + Duration::from_secs(33), 1_700_000_033);
    assert_eq!(later.len(), 1);
    assert!(later[0].starts_with(b"SIP/2.0 401 Unauthorized"));
    assert_ne!(later, first, "a fresh nonce");
    assert_eq!(core.stats().stateless, 3);
    assert_eq!(core.stats().stateless_repeated, 1);
    assert_eq!(core.poll_timeout(), None, "still no transaction, no timer");
}

/// Routes everything over one UDP transport from 192.0.2.1.
struct OneTransport;

impl Network for OneTransport {
    fn route(&self, _: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)> {
        Some((
            Flow::udp("transport-udp", remote),
            "192.0.2.1:5060".parse().ok()?,
        ))
    }
}

#[test]
fn a_request_to_a_registrations_line_is_from_its_endpoint() {
    let conf = "[carrier]\ntype=endpoint\ncontext=default\n\
                [carrier-reg]\ntype=registration\nserver_uri=sip:192.0.2.10\n\
                client_uri=sip:pbx@192.0.2.10\nline=yes\nendpoint=carrier\n\
                [alice]\ntype=endpoint\nauth=alice\n[alice]\ntype=auth\nusername=alice\n\
                password=wonderland\n";
    let snap = snapshot(conf);
    let states = Arc::new(RegistrationStates::default());
    let mut core = core().with_usages(1, states.clone(), Arc::new(OneTransport));
    let now = Instant::now();
    core.run_usages(now, 0, &snap);
    let token = states
        .get("carrier-reg")
        .and_then(|s| s.line)
        .expect("a line token is published");
    // From an address nobody identifies, as a user that needs auth: without the line
    // parameter that is a challenge; with it, the carrier's endpoint (no auth) answers.
    let with_line = String::from_utf8_lossy(&options("alice", "z9hG4bKl1", "")).replace(
        "OPTIONS sip:192.0.2.1 ",
        &format!("OPTIONS sip:192.0.2.1;line={token} "),
    );
    core.handle_received(
        now,
        0,
        &snap,
        rx("203.0.113.7:5060", Bytes::from(with_line)),
    );
    core.handle_received(
        now,
        0,
        &snap,
        rx("203.0.113.7:5060", options("alice", "z9hG4bKl2", "")),
    );
    let got: Vec<u16> = answers(&mut core)
        .iter()
        .filter(|(to, _)| to.to_string() == "203.0.113.7:5060")
        .map(|(_, m)| status(m))
        .collect();
    assert_eq!(got, vec![200, 401]);
}
