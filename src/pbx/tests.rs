//! Calls through a real core and PBX on virtual time, without sockets: SIP messages in,
//! SIP messages out, a recording media engine.

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use bytes::Bytes;

use super::*;
use crate::auth::NonceKey;
use crate::core::{CoreShared, Network, Tables};
use crate::distributor::{Distributor, Route};
use crate::media::{LegConfig, LegId, LegStats, LocalMedia, MediaError, OpenLeg, Sound};
use crate::sip::Message;
use crate::testing::snapshot;
use crate::transport::{Flow, Received};
use crate::tsx::TimerConfig;

const CONF: &str = "
[t]
type=transport
protocol=udp
bind=192.0.2.1:5060
[alice]
type=endpoint
context=calls
allow=ulaw
direct_media=no
[alice]
type=identify
endpoint=alice
match=192.0.2.10
[bob]
type=endpoint
context=calls
allow=ulaw,alaw
aors=bob
direct_media=no
timers_min_se=180
[bob]
type=aor
contact=sip:bob@192.0.2.20:5060
[bob]
type=identify
endpoint=bob
match=192.0.2.20
[carol]
type=endpoint
context=calls
allow=ulaw
aors=carol
direct_media=no
[carol]
type=aor
contact=sip:carol@192.0.2.30:5060
[trunk]
type=endpoint
context=calls
allow=ulaw
direct_media=no
from_user=pbx
from_domain=example.net
[dave]
type=endpoint
context=calls
allow=ulaw
aors=dave
direct_media=no
send_pai=yes
send_rpid=yes
trust_id_outbound=yes
[dave]
type=aor
contact=sip:dave@192.0.2.50:5060
[eve]
type=endpoint
context=calls
allow=ulaw
aors=eve
direct_media=no
send_pai=yes
send_rpid=yes
[eve]
type=aor
contact=sip:eve@192.0.2.60:5060
[frank]
type=endpoint
context=calls
allow=ulaw
direct_media=no
callerid=\"Frank\" <7001>
callerid_privacy=prohib
trust_id_inbound=yes
[frank]
type=identify
endpoint=frank
match=192.0.2.12
";

const DIALPLAN: &str = "[calls]
exten => bob,1,Dial(PJSIP/bob,5)
 same => n,Hangup()
exten => short,1,Dial(PJSIP/bob,2)
 same => n,Set(X=${DIALSTATUS})
 same => n,Hangup()
exten => both,1,Dial(PJSIP/bob&PJSIP/carol,5)
 same => n,Hangup()
exten => out,1,Dial(PJSIP/5551234@trunk/sip:gw@192.0.2.40:5080)
 same => n,Hangup()
exten => ghost,1,Dial(PJSIP/ghost)
 same => n,Hangup()
exten => echo,1,Answer()
 same => n,Echo()
exten => cid,1,Set(CALLERID(num)=5550100)
 same => n,Set(CALLERID(name)=Front Desk)
 same => n,Dial(PJSIP/eve,5)
exten => private,1,Set(CALLERID(pres)=prohib)
 same => n,Dial(PJSIP/eve,5)
exten => dave,1,Dial(PJSIP/dave,5)
exten => eve,1,Dial(PJSIP/eve,5)
exten => hdr,1,Set(A=${PJSIP_HEADER(read,x-account)}/${PJSIP_HEADER(read,X-Tag,2)})
 same => n,Set(PJSIP_HEADER(add,X-Seen)=${A})
 same => n,Dial(PJSIP/eve,5)
";

/// A media engine that hands out ports and records what it is told.
#[derive(Default)]
struct FakeMedia {
    next: AtomicU64,
    open: Mutex<HashSet<u64>>,
    log: Mutex<Vec<String>>,
}

impl FakeMedia {
    fn logged(&self, what: &str) -> bool {
        self.log
            .lock()
            .map(|l| l.iter().any(|e| e.starts_with(what)))
            .unwrap_or(false)
    }
}

impl crate::media::MediaControl for FakeMedia {
    fn open(&self, req: &OpenLeg) -> Result<LocalMedia, MediaError> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut o) = self.open.lock() {
            o.insert(n);
        }
        let port = 40000 + 2 * u16::try_from(n).unwrap_or(0);
        Ok(LocalMedia {
            leg: LegId(n),
            rtp: SocketAddr::new(req.local_ip, port),
            rtcp: SocketAddr::new(req.local_ip, port + 1),
        })
    }
    fn configure(&self, leg: LegId, config: LegConfig) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!(
                "configure {} {:?} pt={}",
                leg.0, config.remote_rtp, config.payload_type
            ));
        }
    }
    fn bridge(&self, a: LegId, b: LegId) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("bridge {} {}", a.0, b.0));
        }
    }
    fn unbridge(&self, _: LegId) {}
    fn echo(&self, leg: LegId) {
        if let Ok(mut l) = self.log.lock() {
            l.push(format!("echo {}", leg.0));
        }
    }
    fn play(&self, _: LegId, _: Arc<Sound>) {}
    fn stop_play(&self, _: LegId) {}
    fn send_dtmf(&self, _: LegId, _: char, _: u32) {}
    fn close(&self, leg: LegId) {
        if let Ok(mut o) = self.open.lock() {
            o.remove(&leg.0);
        }
    }
    fn stats(&self, _: LegId) -> Option<LegStats> {
        None
    }
    fn open_legs(&self) -> usize {
        self.open.lock().map(|o| o.len()).unwrap_or(0)
    }
}

/// Every peer is reached over transport `t` from 192.0.2.1:5060.
struct Net;

impl Network for Net {
    fn route(&self, _: Option<&str>, remote: SocketAddr) -> Option<(Flow, SocketAddr)> {
        Some((
            Flow::udp("t", remote),
            SocketAddr::from(([192, 0, 2, 1], 5060)),
        ))
    }
}

struct Harness {
    core: Core,
    pbx: Pbx,
    snap: Arc<crate::sorcery::Snapshot>,
    distributor: Distributor,
    media: Arc<FakeMedia>,
    now: Instant,
    /// Everything sent so far, not yet taken.
    sent: Vec<(SocketAddr, Message)>,
}

impl Harness {
    fn new() -> Self {
        Self::with_conf(CONF)
    }

    fn with_conf(conf: &str) -> Self {
        let snap = snapshot(conf);
        let dialplan = crate::dialplan::Dialplan::load_str(
            &crate::config::ini::MemFs::new(),
            std::path::Path::new("extensions.conf"),
            DIALPLAN,
        )
        .expect("dialplan")
        .dialplan;
        let distributor = Distributor::new(1, 0);
        let shared = CoreShared {
            tables: Arc::new(ArcSwap::from_pointee(Tables {
                dialplan,
                ..Tables::default()
            })),
            dialogs: distributor.dialogs().clone(),
            ..CoreShared::default()
        };
        let core = Core::new(TimerConfig::default(), NonceKey::from_bytes([7; 32]), 1)
            .with_shared(&shared)
            .with_usages(1, Arc::default(), Arc::new(Net));
        let media = Arc::new(FakeMedia::default());
        let pbx = Pbx::new(
            PbxShared {
                media: media.clone(),
                sounds_dir: "/nonexistent".into(),
                registry: Arc::default(),
                sounds: Arc::default(),
                counter: Arc::default(),
            },
            0,
            9,
        );
        Self {
            core,
            pbx,
            snap,
            distributor,
            media,
            now: Instant::now(),
            sent: Vec::new(),
        }
    }

    /// A message from `source` through the distributor, the core and the PBX.
    fn rx(&mut self, source: &str, text: &str) {
        let source: SocketAddr = source.parse().expect("address");
        let rx = Received {
            flow: Flow::udp("t", source),
            bytes: Bytes::from(text.replace("\r\n", "\n").replace('\n', "\r\n")),
        };
        match self.distributor.route(rx) {
            Route::Queue { flow, message, .. } => {
                self.core
                    .handle_message(self.now, 1_800_000_000, &self.snap, flow, message);
            }
            Route::Reply(t) => {
                if let Ok(m) = Message::parse(t.bytes) {
                    self.sent.push((t.flow.remote, m));
                }
            }
            Route::Dropped(_) => {}
        }
        self.settle();
    }

    fn settle(&mut self) {
        self.pbx.handle_events(self.now, &mut self.core, &self.snap);
        while let Some(t) = self.core.poll_transmit() {
            if let Ok(m) = Message::parse(t.bytes) {
                self.sent.push((t.flow.remote, m));
            }
        }
    }

    fn advance(&mut self, d: Duration) {
        let end = self.now + d;
        // Step through every deadline on the way, as the queue's timer would.
        for _ in 0..10_000 {
            let next = [self.core.poll_timeout(), self.pbx.poll_timeout()]
                .into_iter()
                .flatten()
                .min();
            match next {
                Some(t) if t <= end => {
                    self.now = self.now.max(t);
                    self.core.handle_timeout(self.now);
                    self.pbx
                        .handle_timeout(self.now, &mut self.core, &self.snap);
                    self.settle();
                }
                _ => break,
            }
        }
        self.now = end;
    }

    /// Takes what was sent to `to`.
    fn take(&mut self, to: &str) -> Vec<Message> {
        let to: SocketAddr = to.parse().expect("address");
        let (mine, rest): (Vec<_>, Vec<_>) = self.sent.drain(..).partition(|(a, _)| *a == to);
        self.sent = rest;
        mine.into_iter().map(|(_, m)| m).collect()
    }

    /// The requests of one method sent to `to` (the others are dropped).
    fn requests(&mut self, to: &str, method: &str) -> Vec<crate::sip::Request> {
        self.take(to)
            .into_iter()
            .filter_map(|m| match m {
                Message::Request(r) if r.method.as_str() == method => Some(r),
                _ => None,
            })
            .collect()
    }
}

const ALICE: &str = "192.0.2.10:5060";
const CAROL: &str = "192.0.2.30:5060";
const GW: &str = "192.0.2.40:5080";
const BOB: &str = "192.0.2.20:5060";

fn sdp(codec: &str) -> String {
    let (pt, name) = match codec {
        "gsm" => (3, "GSM/8000"),
        _ => (0, "PCMU/8000"),
    };
    format!(
        "v=0\no=a 1 1 IN IP4 192.0.2.10\ns=-\nc=IN IP4 192.0.2.10\nt=0 0\nm=audio 7000 RTP/AVP {pt}\na=rtpmap:{pt} {name}\n"
    )
}

fn invite(exten: &str, extra: &str, body: &str) -> String {
    let body = body.replace('\n', "\r\n");
    format!(
        "INVITE sip:{exten}@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1
Max-Forwards: 70
From: \"Alice\" <sip:alice@192.0.2.10>;tag=at
To: <sip:{exten}@192.0.2.1>
Call-ID: call-1
CSeq: 1 INVITE
Contact: <sip:alice@192.0.2.10:5060>
{extra}Content-Type: application/sdp
Content-Length: {}

{body}",
        body.len()
    )
}

/// A response of bob to the INVITE (or other request) `r`, with `tag` and an optional
/// body.
fn answer(r: &crate::sip::Request, status: &str, body: Option<&str>) -> String {
    let mut t = format!("SIP/2.0 {status}\n");
    for name in ["Via", "From", "To", "Call-ID", "CSeq"] {
        let h = crate::sip::HeaderName::new(name);
        if let Some(v) = r.headers.get(&h) {
            let mut v = String::from_utf8_lossy(v).into_owned();
            if name == "To" && !v.contains("tag=") {
                v.push_str(";tag=bt");
            }
            t.push_str(&format!("{name}: {v}\n"));
        }
    }
    // The callee's Contact is where the request went (its static contact).
    t.push_str(&format!("Contact: <{}>\n", r.uri));
    match body {
        Some(b) => {
            let b = b.replace('\n', "\r\n");
            t.push_str(&format!(
                "Content-Type: application/sdp\nContent-Length: {}\n\n{b}",
                b.len()
            ))
        }
        None => t.push_str("Content-Length: 0\n\n"),
    }
    t
}

fn statuses(msgs: &[Message]) -> Vec<u16> {
    msgs.iter()
        .filter_map(|m| m.as_response().map(|r| r.status.code()))
        .collect()
}

fn in_dialog(method: &str, cseq: u32, to_tag: &str, extra: &str, body: &str) -> String {
    let body = body.replace('\n', "\r\n");
    format!(
        "{method} sip:192.0.2.1:5060 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKd{cseq}
Max-Forwards: 70
From: \"Alice\" <sip:alice@192.0.2.10>;tag=at
To: <sip:bob@192.0.2.1>;tag={to_tag}
Call-ID: call-1
CSeq: {cseq} {method}
Contact: <sip:alice@192.0.2.10:5060>
{extra}Content-Length: {}

{body}",
        body.len()
    )
}

/// Our To tag in the responses to alice.
fn our_tag(msgs: &[Message]) -> String {
    msgs.iter()
        .filter_map(|m| m.as_response())
        .find_map(|r| {
            r.headers
                .to()
                .ok()
                .and_then(|t| t.tag().map(str::to_string))
        })
        .expect("a tagged response")
}

/// A call up to alice's ACK; returns bob's INVITE and our tag towards alice.
fn established(h: &mut Harness) -> (crate::sip::Request, String) {
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE to bob");
    h.rx(BOB, &answer(&inv, "200 OK", Some(&sdp("ulaw"))));
    let to_alice = h.take(ALICE);
    assert!(statuses(&to_alice).contains(&200), "{to_alice:?}");
    let tag = our_tag(&to_alice);
    h.rx(ALICE, &in_dialog("ACK", 1, &tag, "", ""));
    (inv, tag)
}

#[test]
fn a_call_is_bridged_and_a_bye_crosses_it_then_everything_returns_to_zero() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    assert_eq!(statuses(&h.take(ALICE)), vec![100]);
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE to bob");
    // Our offer to bob: our address, the caller's codec first.
    let offer = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(offer.contains("c=IN IP4 192.0.2.1"), "{offer}");
    assert!(offer.contains("m=audio 4000"), "{offer}");
    assert!(offer.contains("a=rtpmap:0 PCMU/8000"), "{offer}");
    h.rx(BOB, &answer(&inv, "180 Ringing", None));
    assert_eq!(statuses(&h.take(ALICE)), vec![180]);
    h.rx(BOB, &answer(&inv, "200 OK", Some(&sdp("ulaw"))));
    assert_eq!(h.requests(BOB, "ACK").len(), 1);
    let to_alice = h.take(ALICE);
    assert_eq!(statuses(&to_alice), vec![200]);
    let body = String::from_utf8_lossy(to_alice[0].body()).into_owned();
    assert!(
        body.contains("m=audio 4000") && body.contains("a=rtpmap:0 PCMU/8000"),
        "{body}"
    );
    let tag = our_tag(&to_alice);
    h.rx(ALICE, &in_dialog("ACK", 1, &tag, "", ""));
    assert!(h.media.logged("bridge"));
    assert_eq!(h.pbx.channels(), 2);
    // Alice hangs up: 200 to her, BYE to bob.
    h.rx(ALICE, &in_dialog("BYE", 2, &tag, "", ""));
    assert_eq!(statuses(&h.take(ALICE)), vec![200]);
    let bye = h.requests(BOB, "BYE").pop().expect("BYE to bob");
    assert_eq!(bye.uri.to_string(), "sip:bob@192.0.2.20:5060");
    h.rx(BOB, &answer(&bye, "200 OK", None));
    assert_eq!(h.pbx.channels(), 0);
    assert_eq!(h.media.open_legs(), 0);
    // Sessions and dialogs are forgotten after absorbing late retransmissions.
    h.advance(Duration::from_secs(40));
    assert_eq!(h.core.sessions(), 0);
}

#[test]
fn a_new_call_that_waited_too_long_in_its_queue_gets_503_but_calls_up_go_on() {
    let mut h = Harness::new();
    let (_, tag) = established(&mut h);
    // The queue fell behind: a new INVITE that waited longer than BUSY_WAIT is refused
    // cheaply (no channel, no media), with Retry-After.
    h.core
        .set_queue_wait(crate::core::BUSY_WAIT + Duration::from_millis(1));
    let new_call = invite("bob", "", &sdp("ulaw"))
        .replace("Call-ID: ", "Call-ID: late-")
        .replace("z9hG4bKa1", "z9hG4bKlate");
    h.rx(ALICE, &new_call);
    let refused = h.take(ALICE);
    assert_eq!(statuses(&refused), vec![503]);
    assert_eq!(
        refused[0]
            .headers()
            .get(&crate::sip::HeaderName::RetryAfter)
            .map(|v| &v[..]),
        Some(&b"5"[..])
    );
    assert!(h.requests(BOB, "INVITE").is_empty());
    assert_eq!((h.pbx.channels(), h.media.open_legs()), (2, 2));
    // The call already up is still served: its BYE crosses.
    h.rx(ALICE, &in_dialog("BYE", 2, &tag, "", ""));
    assert_eq!(statuses(&h.take(ALICE)), vec![200]);
    assert_eq!(h.requests(BOB, "BYE").len(), 1);
    // A wait within the bound takes new calls again.
    h.core.set_queue_wait(crate::core::BUSY_WAIT);
    h.rx(
        ALICE,
        &new_call
            .replace("Call-ID: late-", "Call-ID: later-")
            .replace("z9hG4bKlate", "z9hG4bKlater"),
    );
    assert_eq!(statuses(&h.take(ALICE)), vec![100]);
    assert_eq!(h.requests(BOB, "INVITE").len(), 1);
}

#[test]
fn the_overload_bound_on_queue_wait_is_configurable_and_can_be_turned_off() {
    let mut h = Harness::new();
    let call = |n: &str| {
        invite("bob", "", &sdp("ulaw"))
            .replace("Call-ID: ", &format!("Call-ID: {n}-"))
            .replace("z9hG4bKa1", &format!("z9hG4bK{n}"))
    };
    // [sip] overload_wait_ms = 200: 201 ms of waiting is too long.
    h.core.set_overload_wait(Some(Duration::from_millis(200)));
    h.core.set_queue_wait(Duration::from_millis(201));
    h.rx(ALICE, &call("short"));
    assert_eq!(statuses(&h.take(ALICE)), vec![503]);
    assert!(h.requests(BOB, "INVITE").is_empty());
    // overload_wait_ms = 0: no bound, even after a minute in the queue.
    h.core.set_overload_wait(None);
    h.core.set_queue_wait(Duration::from_secs(60));
    h.rx(ALICE, &call("unbounded"));
    assert_eq!(statuses(&h.take(ALICE)), vec![100]);
    assert_eq!(h.requests(BOB, "INVITE").len(), 1);
}

#[test]
fn the_callee_hanging_up_sends_bye_to_the_caller() {
    let mut h = Harness::new();
    let (inv, _) = established(&mut h);
    let text = format!(
        "BYE sip:192.0.2.1:5060 SIP/2.0\nVia: SIP/2.0/UDP 192.0.2.20:5060;branch=z9hG4bKb9\nMax-Forwards: 70\nFrom: <sip:bob@192.0.2.20>;tag=bt\nTo: {}\nCall-ID: {}\nCSeq: 9 BYE\nContent-Length: 0\n\n",
        String::from_utf8_lossy(
            inv.headers
                .get(&crate::sip::HeaderName::From)
                .expect("From")
        ),
        inv.headers.call_id().expect("Call-ID")
    );
    h.rx(BOB, &text);
    assert_eq!(statuses(&h.take(BOB)), vec![200]);
    let byes = h.requests(ALICE, "BYE");
    assert_eq!(byes.len(), 1);
    assert_eq!(byes[0].uri.to_string(), "sip:alice@192.0.2.10:5060");
    assert_eq!(h.pbx.channels(), 0);
}

#[test]
fn a_busy_callee_makes_a_busy_caller() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    h.rx(BOB, &answer(&inv, "486 Busy Here", None));
    // The transaction acknowledges bob's 486; alice gets 486.
    assert_eq!(h.requests(BOB, "ACK").len(), 1);
    let st = statuses(&h.take(ALICE));
    assert!(st.contains(&486), "{st:?}");
    assert_eq!(h.pbx.channels(), 0);
    assert_eq!(h.media.open_legs(), 0);
}

#[test]
fn a_decline_is_mapped_to_403_as_chan_pjsip_does() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    h.rx(BOB, &answer(&inv, "603 Decline", None));
    assert!(statuses(&h.take(ALICE)).contains(&403));
}

#[test]
fn no_answer_cancels_the_callee_and_the_dialplan_goes_on() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("short", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    h.rx(BOB, &answer(&inv, "180 Ringing", None));
    h.take(ALICE);
    h.advance(Duration::from_millis(2100));
    let cancel = h.requests(BOB, "CANCEL").pop().expect("CANCEL to bob");
    assert_eq!(
        cancel.headers.cseq().expect("CSeq").seq,
        inv.headers.cseq().expect("CSeq").seq
    );
    h.rx(BOB, &answer(&cancel, "200 OK", None));
    h.rx(BOB, &answer(&inv, "487 Request Terminated", None));
    let st = statuses(&h.take(ALICE));
    assert!(st.contains(&480), "NOANSWER then Hangup() is 480: {st:?}");
    assert_eq!(h.pbx.channels(), 0);
}

#[test]
fn the_callers_cancel_cancels_the_callee() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    h.rx(BOB, &answer(&inv, "180 Ringing", None));
    h.take(ALICE);
    h.rx(
        ALICE,
        "CANCEL sip:bob@192.0.2.1 SIP/2.0
Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKa1
Max-Forwards: 70
From: \"Alice\" <sip:alice@192.0.2.10>;tag=at
To: <sip:bob@192.0.2.1>
Call-ID: call-1
CSeq: 1 CANCEL
Content-Length: 0

",
    );
    let st = statuses(&h.take(ALICE));
    assert!(st.contains(&200) && st.contains(&487), "{st:?}");
    assert_eq!(h.requests(BOB, "CANCEL").len(), 1);
}

#[test]
fn unknown_extensions_bad_sdp_and_no_common_codec_are_refused() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("nobody", "", &sdp("ulaw")));
    assert!(statuses(&h.take(ALICE)).contains(&404));
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &sdp("gsm")));
    assert!(statuses(&h.take(ALICE)).contains(&488));
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", "v=0\nm=audio x\n"));
    assert!(statuses(&h.take(ALICE)).contains(&400));
    assert_eq!(h.media.open_legs(), 0);
    assert_eq!(h.pbx.channels(), 0);
}

#[test]
fn rfc4028_a_short_session_expires_gets_422_with_min_se() {
    let mut h = Harness::new();
    // bob's endpoint has timers_min_se=180; bob calls itself through the dialplan.
    let text = invite(
        "bob",
        "Supported: timer\nSession-Expires: 120;refresher=uac\n",
        &sdp("ulaw"),
    )
    .replace("192.0.2.10", "192.0.2.20");
    h.rx(BOB, &text);
    let msgs = h.take(BOB);
    let r = msgs
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 422)
        .expect("422");
    let min_se = r
        .headers
        .get(&crate::sip::HeaderName::new("Min-SE"))
        .expect("Min-SE");
    assert_eq!(&min_se[..], b"180");
}

#[test]
fn a_hold_reinvite_is_answered_recvonly_from_the_same_port() {
    let mut h = Harness::new();
    let (_, tag) = established(&mut h);
    let hold = sdp("ulaw") + "a=sendonly\n";
    h.rx(
        ALICE,
        &in_dialog("INVITE", 2, &tag, "Content-Type: application/sdp\n", &hold),
    );
    let msgs = h.take(ALICE);
    let ok = msgs
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 200)
        .expect("200");
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(body.contains("a=recvonly"), "{body}");
    assert!(body.contains("m=audio 4000"), "{body}");
    // The o= version moved on (the body changed).
    assert!(!body.contains(" 1 1 IN"), "{body}");
}

#[test]
fn rfc3262_provisional_responses_go_reliably_to_a_caller_that_supports_100rel() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "Supported: 100rel\n", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    // Our INVITE offers 100rel too.
    let supported = String::from_utf8_lossy(
        inv.headers
            .get(&crate::sip::HeaderName::Supported)
            .expect("Supported"),
    )
    .into_owned();
    assert!(supported.contains("100rel"), "{supported}");
    h.rx(BOB, &answer(&inv, "180 Ringing", None));
    let msgs = h.take(ALICE);
    let ringing = msgs
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 180)
        .expect("180");
    assert_eq!(
        &ringing
            .headers
            .get(&crate::sip::HeaderName::RSeq)
            .expect("RSeq")[..],
        b"1"
    );
    let tag = ringing
        .headers
        .to()
        .expect("To")
        .tag()
        .expect("tag")
        .to_string();
    // Unacknowledged, it is retransmitted.
    h.advance(Duration::from_millis(600));
    assert!(statuses(&h.take(ALICE)).contains(&180));
    h.rx(
        ALICE,
        &in_dialog("PRACK", 2, &tag, "RAck: 1 1 INVITE\n", ""),
    );
    assert!(statuses(&h.take(ALICE)).contains(&200));
    h.advance(Duration::from_secs(2));
    assert!(
        !statuses(&h.take(ALICE)).contains(&180),
        "no retransmission after PRACK"
    );
}

#[test]
fn echo_answers_and_loops_the_media_back() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("echo", "", &sdp("ulaw")));
    assert!(statuses(&h.take(ALICE)).contains(&200));
    assert!(h.media.logged("echo"));
}

#[test]
fn a_late_offer_is_made_in_the_200_and_a_malformed_answer_in_the_ack_ends_with_bye() {
    let mut h = Harness::new();
    let text = invite("echo", "", "").replace("Content-Type: application/sdp\n", "");
    h.rx(ALICE, &text);
    let msgs = h.take(ALICE);
    let ok = msgs
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 200)
        .expect("200");
    assert!(
        String::from_utf8_lossy(&ok.body).contains("m=audio"),
        "our offer in the 200"
    );
    let tag = ok.headers.to().expect("To").tag().expect("tag").to_string();
    h.rx(
        ALICE,
        &in_dialog(
            "ACK",
            1,
            &tag,
            "Content-Type: application/sdp\n",
            "v=0\nbogus\n",
        ),
    );
    assert_eq!(h.requests(ALICE, "BYE").len(), 1);
    assert_eq!(h.pbx.channels(), 0);
}

#[test]
fn direct_media_reinvites_both_answered_legs_towards_each_other() {
    let conf = CONF.replace("direct_media=no", "direct_media=yes");
    let mut h = Harness::with_conf(&conf);
    let bob_sdp = sdp("ulaw")
        .replace("192.0.2.10", "192.0.2.20")
        .replace("7000", "8000");
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE to bob");
    h.rx(BOB, &answer(&inv, "200 OK", Some(&bob_sdp)));
    // bob's leg is up at once; alice's after her ACK, then both are re-INVITEd.
    let tag = our_tag(&h.take(ALICE));
    assert!(h.requests(BOB, "INVITE").is_empty());
    h.rx(ALICE, &in_dialog("ACK", 1, &tag, "", ""));
    let to_alice = h
        .requests(ALICE, "INVITE")
        .pop()
        .expect("re-INVITE to alice");
    let body = String::from_utf8_lossy(&to_alice.body).into_owned();
    assert!(
        body.contains("c=IN IP4 192.0.2.20") && body.contains("m=audio 8000"),
        "{body}"
    );
    let to_bob = h.requests(BOB, "INVITE").pop().expect("re-INVITE to bob");
    let body = String::from_utf8_lossy(&to_bob.body).into_owned();
    assert!(
        body.contains("c=IN IP4 192.0.2.10") && body.contains("m=audio 7000"),
        "{body}"
    );
    // The re-INVITE to bob is within his dialog (his tag).
    assert!(to_bob.headers.to().expect("To").tag() == Some("bt"));
}

#[test]
fn rfc3261_9_1_a_cancelled_invite_never_answered_is_given_up_after_64_t1() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("short", "", &sdp("ulaw")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    h.rx(BOB, &answer(&inv, "180 Ringing", None));
    h.advance(Duration::from_millis(2100));
    let cancel = h.requests(BOB, "CANCEL").pop().expect("CANCEL to bob");
    // bob answers the CANCEL but never the INVITE.
    h.rx(BOB, &answer(&cancel, "200 OK", None));
    assert_eq!(h.pbx.channels(), 0);
    h.advance(Duration::from_secs(70));
    assert_eq!(
        h.core.sessions(),
        0,
        "the session and its dialog are forgotten"
    );
    assert_eq!(h.distributor.dialogs().len(), 0);
}

#[test]
fn external_addresses_apply_to_via_contact_and_sdp_outside_local_net() {
    let conf = CONF.replace(
        "bind=192.0.2.1:5060\n",
        "bind=192.0.2.1:5060\nexternal_signaling_address=203.0.113.1\nexternal_signaling_port=5070\nexternal_media_address=203.0.113.2\nlocal_net=192.0.2.0/28\n",
    );
    let mut h = Harness::with_conf(&conf);
    h.rx(ALICE, &invite("bob", "", &sdp("ulaw")));
    // bob (192.0.2.20) is outside local_net 192.0.2.0/28: our addresses are the external ones.
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    let via = String::from_utf8_lossy(inv.headers.get(&crate::sip::HeaderName::Via).expect("Via"))
        .into_owned();
    assert!(via.contains("203.0.113.1:5070"), "{via}");
    let contact = String::from_utf8_lossy(
        inv.headers
            .get(&crate::sip::HeaderName::Contact)
            .expect("Contact"),
    )
    .into_owned();
    assert!(contact.contains("203.0.113.1:5070"), "{contact}");
    let body = String::from_utf8_lossy(&inv.body).into_owned();
    assert!(
        body.contains("c=IN IP4 203.0.113.2") && body.contains("IN IP4 203.0.113.2\r\ns="),
        "{body}"
    );
    // alice (192.0.2.10) is inside local_net: nothing is rewritten towards her.
    h.rx(BOB, &answer(&inv, "200 OK", Some(&sdp("ulaw"))));
    let to_alice = h.take(ALICE);
    let ok = to_alice
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 200)
        .expect("200");
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(body.contains("c=IN IP4 192.0.2.1"), "{body}");
    let contact = String::from_utf8_lossy(
        ok.headers
            .get(&crate::sip::HeaderName::Contact)
            .expect("Contact"),
    )
    .into_owned();
    assert!(contact.contains("192.0.2.1:5060"), "{contact}");
}

#[test]
fn attributes_the_legs_do_not_negotiate_are_carried_across() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("bob", "", &(sdp("ulaw") + "a=X-alice:1\n")));
    let inv = h.requests(BOB, "INVITE").pop().expect("INVITE");
    assert!(String::from_utf8_lossy(&inv.body).contains("a=X-alice:1"));
    h.rx(
        BOB,
        &answer(&inv, "200 OK", Some(&(sdp("ulaw") + "a=X-bob:2\n"))),
    );
    let to_alice = h.take(ALICE);
    let ok = to_alice
        .iter()
        .filter_map(|m| m.as_response())
        .find(|r| r.status.code() == 200)
        .expect("200");
    let body = String::from_utf8_lossy(&ok.body).into_owned();
    assert!(
        body.contains("a=X-bob:2") && !body.contains("a=X-alice"),
        "{body}"
    );
}

#[test]
fn targets_ring_in_parallel_the_first_answer_wins_and_the_others_are_cancelled() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("both", "", &sdp("ulaw")));
    let to_bob = h.requests(BOB, "INVITE").pop().expect("INVITE to bob");
    let to_carol = h.requests(CAROL, "INVITE").pop().expect("INVITE to carol");
    h.rx(BOB, &answer(&to_bob, "180 Ringing", None));
    h.rx(CAROL, &answer(&to_carol, "180 Ringing", None));
    h.rx(CAROL, &answer(&to_carol, "200 OK", Some(&sdp("ulaw"))));
    let to_bob_now = h.take(BOB);
    let cancels = to_bob_now
        .iter()
        .filter(|m| {
            m.as_request()
                .is_some_and(|r| r.method.as_str() == "CANCEL")
        })
        .count();
    assert_eq!(cancels, 1, "bob is cancelled: {to_bob_now:?}");
    assert_eq!(h.requests(CAROL, "ACK").len(), 1);
    let st = statuses(&h.take(ALICE));
    assert_eq!(st.iter().filter(|s| **s == 200).count(), 1, "{st:?}");
    assert_eq!(h.pbx.channels(), 2, "bob's channel went with the CANCEL");
    h.rx(BOB, &answer(&to_bob, "487 Request Terminated", None));
    assert_eq!(h.requests(BOB, "ACK").len(), 1, "the 487 is acknowledged");
    assert_eq!(h.pbx.channels(), 2);
    assert_eq!(h.media.open_legs(), 2);
}

#[test]
fn a_uri_dial_string_with_a_request_user_uses_the_endpoints_from_options() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("out", "", &sdp("ulaw")));
    let inv = h
        .requests(GW, "INVITE")
        .pop()
        .expect("INVITE to the gateway");
    assert_eq!(inv.uri.to_string(), "sip:5551234@192.0.2.40:5080");
    let from = inv.headers.from().expect("From");
    assert_eq!(from.uri.to_string(), "sip:pbx@example.net");
    // from_user carries no display name (res_pjsip_session's set_from_header).
    assert_eq!(from.display, None);
}

#[test]
fn an_unknown_endpoint_is_chanunavail_and_the_caller_gets_the_mapped_status() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("ghost", "", &sdp("ulaw")));
    let st = statuses(&h.take(ALICE));
    // NO_ROUTE_DESTINATION (3) is refused with 404, as chan_pjsip maps it.
    assert!(st.contains(&404), "{st:?}");
    assert_eq!(h.media.open_legs(), 0);
}

const DAVE: &str = "192.0.2.50:5060";
const EVE: &str = "192.0.2.60:5060";
const FRANK: &str = "192.0.2.12:5060";

/// The INVITE the PBX sent to `to`, with the values of the identity header fields.
struct Sent {
    from: crate::sip::NameAddr,
    pai: Option<String>,
    rpid: Option<String>,
    privacy: Option<String>,
}

fn identity_sent(h: &mut Harness, to: &str) -> Sent {
    let inv = h
        .requests(to, "INVITE")
        .pop()
        .expect("INVITE to the callee");
    let value = |name: &str| {
        inv.headers
            .get(&crate::sip::HeaderName::new(name))
            .map(|v| String::from_utf8_lossy(v).into_owned())
    };
    Sent {
        from: inv.headers.from().expect("From"),
        pai: value("P-Asserted-Identity"),
        rpid: value("Remote-Party-ID"),
        privacy: value("Privacy"),
    }
}

#[test]
fn pjsip_header_read_finds_the_invites_fields_by_name_and_number() {
    let mut h = Harness::new();
    h.rx(
        ALICE,
        &invite(
            "hdr",
            "X-Account: 42\nX-Tag: one\nx-tag: two\n",
            &sdp("ulaw"),
        ),
    );
    let inv = h.requests(EVE, "INVITE").pop().expect("INVITE to eve");
    let seen = inv
        .headers
        .get(&crate::sip::HeaderName::new("X-Seen"))
        .map(|v| String::from_utf8_lossy(v).into_owned());
    assert_eq!(seen.as_deref(), Some("42/two"));
}

#[test]
fn set_callerid_before_dial_is_what_the_callee_is_shown() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("cid", "", &sdp("ulaw")));
    let s = identity_sent(&mut h, EVE);
    assert_eq!(s.from.display.as_deref(), Some("Front Desk"));
    assert_eq!(s.from.uri.to_string(), "sip:5550100@192.0.2.1:5060");
    assert_eq!(
        s.pai.as_deref(),
        Some("\"Front Desk\" <sip:5550100@192.0.2.1:5060>")
    );
    assert_eq!(
        s.rpid.as_deref(),
        Some("\"Front Desk\" <sip:5550100@192.0.2.1:5060>;party=calling;privacy=off;screen=no")
    );
    assert_eq!(s.privacy, None);
}

#[test]
fn a_restricted_caller_is_anonymous_and_unasserted_to_an_untrusted_callee() {
    let mut h = Harness::new();
    h.rx(ALICE, &invite("private", "", &sdp("ulaw")));
    let s = identity_sent(&mut h, EVE);
    // RFC 3323 4.1.1.3, as Asterisk anonymizes From.
    assert_eq!(s.from.display.as_deref(), Some("Anonymous"));
    assert_eq!(s.from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!((s.pai, s.rpid, s.privacy), (None, None, None));
}

#[test]
fn trust_id_outbound_asserts_a_restricted_caller_marked_private() {
    // frank's own callerid, restricted by its callerid_privacy (no PAI in its INVITE).
    let mut h = Harness::new();
    h.rx(FRANK, &invite("dave", "", &sdp("ulaw")));
    let s = identity_sent(&mut h, DAVE);
    assert_eq!(s.from.display.as_deref(), Some("Anonymous"));
    assert_eq!(s.from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!(
        s.pai.as_deref(),
        Some("\"Frank\" <sip:7001@192.0.2.1:5060>")
    );
    assert_eq!(s.privacy.as_deref(), Some("id"));
    assert_eq!(
        s.rpid.as_deref(),
        Some("\"Frank\" <sip:7001@192.0.2.1:5060>;party=calling;privacy=full;screen=no")
    );
    // The same caller to an endpoint not trusted with it: nothing asserted.
    let mut h = Harness::new();
    h.rx(FRANK, &invite("eve", "", &sdp("ulaw")));
    let s = identity_sent(&mut h, EVE);
    assert_eq!(s.from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!((s.pai, s.rpid), (None, None));
}

#[test]
fn trust_id_inbound_takes_identity_and_privacy_from_pai_or_rpid() {
    // A P-Asserted-Identity without Privacy replaces frank's restricted callerid.
    let mut h = Harness::new();
    let pai = "P-Asserted-Identity: \"Desk\" <sip:5550199@gw.example>\n";
    h.rx(FRANK, &invite("eve", pai, &sdp("ulaw")));
    let s = identity_sent(&mut h, EVE);
    assert_eq!(s.from.display.as_deref(), Some("Desk"));
    assert_eq!(s.from.uri.to_string(), "sip:5550199@192.0.2.1:5060");
    assert_eq!(
        s.pai.as_deref(),
        Some("\"Desk\" <sip:5550199@192.0.2.1:5060>")
    );
    // With Privacy: id it is restricted.
    let mut h = Harness::new();
    h.rx(
        FRANK,
        &invite("eve", &format!("{pai}Privacy: id\n"), &sdp("ulaw")),
    );
    let s = identity_sent(&mut h, EVE);
    assert_eq!(s.from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!(s.pai, None);
    // A Remote-Party-ID with privacy=full and screen=yes, to a trusted endpoint.
    let mut h = Harness::new();
    let rpid = "Remote-Party-ID: <sip:5550123@gw.example>;party=calling;privacy=full;screen=yes\n";
    h.rx(FRANK, &invite("dave", rpid, &sdp("ulaw")));
    let s = identity_sent(&mut h, DAVE);
    assert_eq!(s.from.uri.to_string(), "sip:anonymous@anonymous.invalid");
    assert_eq!(
        s.rpid.as_deref(),
        Some("<sip:5550123@192.0.2.1:5060>;party=calling;privacy=full;screen=yes")
    );
    assert_eq!(s.privacy.as_deref(), Some("id"));
}
