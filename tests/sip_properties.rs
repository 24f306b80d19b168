//! Property tests of the SIP message layer: no input panics the parser or the framer,
//! printing a parsed message gives a message that parses equal, URIs round-trip, and the
//! fuzz corpus replays as ordinary tests.

use bytes::Bytes;
use pjsipd::sip::{
    Frame, HeaderName, Message, SipUri, Uri, frame, validate_request, validate_response,
};
use proptest::prelude::*;

/// Runs everything the fuzz target runs (without the libfuzzer harness).
fn exercise(data: &[u8]) {
    daemon_path(data);
    if let Frame::Complete { len } = frame(data) {
        assert!(len <= data.len());
    }
    let Ok(msg) = Message::parse(Bytes::copy_from_slice(data)) else {
        return;
    };
    let h = msg.headers();
    let _ = (
        h.vias(),
        h.contacts(),
        h.routes(),
        h.cseq(),
        h.from(),
        h.to(),
        h.content_type(),
    );
    let _ = (
        h.expires(),
        h.retry_after(),
        h.tokens(&HeaderName::Allow),
        h.call_id(),
    );
    match &msg {
        Message::Request(r) => drop(validate_request(r)),
        Message::Response(r) => drop(validate_response(r)),
    }
    let again = Message::parse(msg.to_bytes()).expect("printed message parses");
    assert_eq!(again, msg);
}

/// What the daemon does with the bytes as a datagram: the distributor, then a queue's core
/// (with a configuration that identifies the sender and one that challenges it). Nothing
/// may panic, and every stateless answer must parse.
fn daemon_path(data: &[u8]) {
    use pjsipd::auth::NonceKey;
    use pjsipd::core::Core;
    use pjsipd::distributor::{Distributor, Route};
    use pjsipd::transport::{Flow, Received};
    use pjsipd::tsx::TimerConfig;
    thread_local! {
        static SNAPSHOTS: Vec<std::sync::Arc<pjsipd::sorcery::Snapshot>> = [
            "[t]\ntype=endpoint\n[t-id]\ntype=identify\nendpoint=t\nmatch=192.0.2.1\n",
            "[a]\ntype=endpoint\nauth=a\n[a]\ntype=auth\nusername=a\npassword=p\n",
        ]
        .iter()
        .map(|text| snapshot(text))
        .collect();
    }
    let flow = Flow::udp("t", "192.0.2.1:5060".parse().expect("addr"));
    let route = Distributor::new(4, 1).route(Received {
        flow,
        bytes: Bytes::copy_from_slice(data),
    });
    match route {
        Route::Reply(t) => {
            assert!(
                Message::parse(t.bytes).is_ok(),
                "a stateless answer must parse"
            );
        }
        Route::Queue { flow, message, .. } => SNAPSHOTS.with(|snaps| {
            for snap in snaps {
                let mut core = Core::new(TimerConfig::default(), NonceKey::from_bytes([4; 32]), 1);
                core.handle_message(
                    std::time::Instant::now(),
                    1_700_000_000,
                    snap,
                    flow.clone(),
                    message.clone(),
                );
                while let Some(t) = core.poll_transmit() {
                    assert!(Message::parse(t.bytes).is_ok(), "an answer must parse");
                }
            }
        }),
        Route::Dropped(_) => {}
    }
}

/// A store snapshot of a pjsip.conf text.
fn snapshot(text: &str) -> std::sync::Arc<pjsipd::sorcery::Snapshot> {
    pjsipd::sorcery::Store::from_config_text(text)
        .unwrap_or_else(|e| panic!("{e}"))
        .snapshot()
}

#[test]
fn fuzz_corpus_replays_without_panic() {
    let dir = format!("{}/fuzz/corpus/sip_message", env!("CARGO_MANIFEST_DIR"));
    let mut n = 0;
    for entry in std::fs::read_dir(dir).expect("corpus dir") {
        let data = std::fs::read(entry.expect("entry").path()).expect("read");
        exercise(&data);
        // Every prefix too: this is what a stream framer sees while bytes trickle in.
        for cut in (0..data.len()).step_by(7) {
            exercise(data.get(..cut).unwrap_or_default());
        }
        n += 1;
    }
    assert!(n >= 3);
}

fn token() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9][a-zA-Z0-9.!%*_+`'~-]{0,12}"
}

fn host() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9-]{0,10}(\\.[a-z][a-z0-9]{0,6}){0,2}",
        any::<[u8; 4]>().prop_map(|o| format!("{}.{}.{}.{}", o[0], o[1], o[2], o[3])),
        any::<[u16; 8]>().prop_map(|s| format!("[{}]", std::net::Ipv6Addr::from(s))),
    ]
}

fn sip_uri() -> impl Strategy<Value = String> {
    (
        any::<bool>(),
        proptest::option::of("[a-zA-Z0-9_.!~*'()&=+$,;?/-]{1,10}(%[0-9A-F]{2})?"),
        host(),
        proptest::option::of(any::<u16>()),
        proptest::collection::vec(
            (
                "[a-z][a-z0-9-]{0,6}",
                proptest::option::of("[a-zA-Z0-9]{1,6}"),
            ),
            0..3,
        ),
        proptest::collection::vec(("[a-zA-Z]{1,6}", "[a-zA-Z0-9]{0,6}"), 0..2),
    )
        .prop_map(|(secure, user, host, port, params, headers)| {
            let mut s = String::from(if secure { "sips:" } else { "sip:" });
            if let Some(u) = user {
                s.push_str(&u);
                s.push('@');
            }
            s.push_str(&host);
            if let Some(p) = port {
                s.push_str(&format!(":{p}"));
            }
            let mut seen = std::collections::HashSet::new();
            for (n, v) in params {
                if !seen.insert(n.to_ascii_lowercase()) {
                    continue;
                }
                s.push(';');
                s.push_str(&n);
                if let Some(v) = v {
                    s.push('=');
                    s.push_str(&v);
                }
            }
            for (i, (n, v)) in headers.into_iter().enumerate() {
                s.push_str(&format!("{}{n}={v}", if i == 0 { '?' } else { '&' }));
            }
            s
        })
}

fn message() -> impl Strategy<Value = String> {
    (
        prop_oneof![Just("INVITE".to_string()), Just("REGISTER".to_string()), token()],
        sip_uri(),
        host(),
        token(),
        0u32..(1 << 31),
        proptest::collection::vec((token(), "[ -~]{0,20}"), 0..4),
        "[ -~\r\n]{0,40}",
        any::<bool>(),
    )
        .prop_map(|(method, uri, via_host, tag, seq, extra, body, folded)| {
            let mut s = format!(
                "{method} {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {via_host};branch=z9hG4bK{tag};rport\r\n\
                 To: <{uri}>\r\nFrom: \"A \\\"b\\\"\" <sip:a@{via_host}>;tag={tag}\r\nCall-ID: {tag}@x\r\n\
                 CSeq: {seq} {method}\r\nMax-Forwards: 70\r\n"
            );
            for (n, v) in extra {
                if folded {
                    s.push_str(&format!("X-{n}: {v}\r\n  more\r\n"));
                } else {
                    s.push_str(&format!("X-{n}: {v}\r\n"));
                }
            }
            s.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        exercise(&data);
    }

    #[test]
    fn sip_like_bytes_never_panic(s in "(INVITE sip:a@b SIP/2.0|SIP/2.0 200 OK)\r\n([A-Za-z:;,<>\" \\r\\n@=.0-9-]{0,200})") {
        exercise(s.as_bytes());
    }

    #[test]
    fn generated_messages_round_trip(s in message()) {
        let m = Message::parse(Bytes::from(s.clone())).expect("generated message parses");
        if let Message::Request(r) = &m {
            prop_assert_eq!(validate_request(r), Ok(()));
        }
        let again = Message::parse(m.to_bytes()).expect("reprint parses");
        prop_assert_eq!(&again, &m);
        prop_assert_eq!(frame(s.as_bytes()), Frame::Complete { len: s.len() });
    }

    #[test]
    fn sip_uris_round_trip(s in sip_uri()) {
        let u = SipUri::parse(s.as_bytes()).expect("generated uri parses");
        prop_assert_eq!(u.to_string(), s.clone());
        prop_assert!(u.equivalent(&u));
        let any = Uri::parse(s.as_bytes()).expect("uri");
        prop_assert_eq!(Uri::parse(any.to_string().as_bytes()).expect("reparse"), any);
    }
}
