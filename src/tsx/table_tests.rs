//! Transaction table tests: matching rules of RFC 3261 17.1.3 / 17.2.3, on real messages.

use std::time::{Duration, Instant};

use super::*;

fn request(text: &str) -> Request {
    match Message::parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Request(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn response(text: &str) -> Response {
    match Message::parse(Bytes::from(text.replace('\n', "\r\n"))) {
        Ok(Message::Response(r)) => r,
        other => panic!("{other:?}"),
    }
}

fn options(branch: &str, from_tag: &str) -> Request {
    request(&format!(
        "OPTIONS sip:pbx@192.0.2.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch={branch}\n\
         Max-Forwards: 70\n\
         From: <sip:alice@example.com>;tag={from_tag}\n\
         To: <sip:pbx@192.0.2.1>\n\
         Call-ID: opt-1@192.0.2.9\n\
         CSeq: 1 OPTIONS\n\
         Content-Length: 0\n\n"
    ))
}

fn invite(branch: &str) -> Request {
    request(&format!(
        "INVITE sip:100@192.0.2.1 SIP/2.0\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch={branch}\n\
         Max-Forwards: 70\n\
         From: <sip:alice@example.com>;tag=ft\n\
         To: <sip:100@192.0.2.1>\n\
         Call-ID: inv-{branch}@192.0.2.9\n\
         CSeq: 7 INVITE\n\
         Content-Length: 0\n\n"
    ))
}

fn drain(layer: &mut TsxLayer) -> Vec<LayerOutput> {
    std::iter::from_fn(|| layer.poll_output()).collect()
}

fn sent_statuses(out: &[LayerOutput]) -> Vec<u16> {
    out.iter()
        .filter_map(|o| match o {
            LayerOutput::Transmit { bytes, .. } => Message::parse(bytes.clone())
                .ok()
                .and_then(|m| m.as_response().map(|r| r.status.code())),
            LayerOutput::Event { .. } => None,
        })
        .collect()
}

fn code(n: u16) -> StatusCode {
    StatusCode::new(n).unwrap_or_else(|| panic!("{n}"))
}

#[test]
fn rfc3261_17_2_3_retransmission_matches_by_branch_and_is_answered_again() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let req = options("z9hG4bKaaa", "t1");
    let Incoming::NewRequest { key, request } = layer.handle_request(now, req.clone(), false)
    else {
        panic!("not new")
    };
    let resp = response_to(&request, code(200), Some("x"));
    assert!(layer.send_response(now, &key, resp));
    assert!(matches!(
        layer.handle_request(now, req, false),
        Incoming::Handled
    ));
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![200, 200]);
    assert_eq!(layer.len(), (1, 0));
    // Timer J ends it.
    layer.handle_timeout(now + Duration::from_secs(33));
    let _ = drain(&mut layer);
    assert_eq!(layer.len(), (0, 0));
}

#[test]
fn rfc3261_17_2_1_invite_gets_100_trying_at_once() {
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let incoming = layer.handle_request(Instant::now(), invite("z9hG4bKinv"), false);
    assert!(matches!(incoming, Incoming::NewRequest { .. }));
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), vec![100]);
    // 100 Trying carries no To tag (RFC 3261 8.2.6.2).
    if let Some(LayerOutput::Transmit { bytes, .. }) = out.first()
        && let Ok(message) = Message::parse(bytes.clone())
    {
        let to = message.headers().get(&HeaderName::To).map(|v| v.to_vec());
        assert_eq!(to, Some(b"<sip:100@192.0.2.1>".to_vec()));
    }
}

#[test]
fn rfc3261_17_2_1_an_invite_answered_at_once_gets_no_100() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    // Answered while its request is handled (a 404, a 401 challenge, a 503 of a busy
    // queue): the final response alone; the 100 would only cost a datagram.
    let Incoming::NewRequest { key, request } =
        layer.handle_request(now, invite("z9hG4bKnow"), false)
    else {
        panic!("not new")
    };
    assert!(layer.send_response(now, &key, response_to(&request, code(486), Some("x"))));
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![486]);
    // Its retransmission gets the 486 again.
    assert!(matches!(
        layer.handle_request(now, invite("z9hG4bKnow"), false),
        Incoming::Handled
    ));
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![486]);
    // Another transaction's output first (an INVITE the TU sends on): the 100 leaves
    // before it, and the final response later follows.
    let Incoming::NewRequest { key, request } =
        layer.handle_request(now, invite("z9hG4bKlater"), false)
    else {
        panic!("not new")
    };
    let forked = options("z9hG4bKout", "t9");
    assert!(layer.send_request(now, forked, false).is_some());
    let out = drain(&mut layer);
    assert_eq!(sent_statuses(&out), vec![100]);
    assert_eq!(out.len(), 2);
    assert!(layer.send_response(now, &key, response_to(&request, code(180), Some("x"))));
    assert!(layer.send_response(now, &key, response_to(&request, code(486), Some("x"))));
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![180, 486]);
}

#[test]
fn rfc3261_17_2_3_ack_for_non_2xx_is_absorbed_and_ack_for_2xx_goes_up() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let Incoming::NewRequest { key, request } =
        layer.handle_request(now, invite("z9hG4bKa"), false)
    else {
        panic!()
    };
    assert!(layer.send_response(now, &key, response_to(&request, code(486), Some("tt"))));
    let ack = request_from(&request, Method::Ack);
    assert!(matches!(
        layer.handle_request(now, ack.clone(), false),
        Incoming::Handled
    ));
    // A 2xx-accepted INVITE: its ACK belongs to the dialog.
    let Incoming::NewRequest { key, request } =
        layer.handle_request(now, invite("z9hG4bKb"), false)
    else {
        panic!()
    };
    assert!(layer.send_response(now, &key, response_to(&request, code(200), Some("tt"))));
    let ack = request_from(&request, Method::Ack);
    assert!(matches!(
        layer.handle_request(now, ack, false),
        Incoming::Ack(_)
    ));
}

/// The same request with another method (an ACK or CANCEL matching it).
fn request_from(req: &Request, method: Method) -> Request {
    let mut r = req.clone();
    r.method = method.clone();
    r.headers
        .replace(HeaderName::CSeq, format!("7 {}", method.as_str()));
    r
}

/// An INVITE with `branch`, then its CANCEL: the CANCEL names the INVITE's transaction.
fn cancel_finds_invite(layer: &mut TsxLayer, branch: &str) {
    let now = Instant::now();
    let Incoming::NewRequest {
        key: invite_key,
        request,
    } = layer.handle_request(now, invite(branch), false)
    else {
        panic!()
    };
    let cancel = request_from(&request, Method::Cancel);
    match layer.handle_request(now, cancel, false) {
        Incoming::Cancel { invite, .. } => assert_eq!(invite, Some(invite_key)),
        other => panic!("{other:?}"),
    }
}

#[test]
fn rfc3261_9_2_cancel_finds_its_pending_invite() {
    cancel_finds_invite(&mut TsxLayer::new(TimerConfig::default(), 7), "z9hG4bKc");
}

#[test]
fn rfc3261_8_2_2_2_merged_request_gets_482() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    assert!(matches!(
        layer.handle_request(now, options("z9hG4bKfirst", "same"), false),
        Incoming::NewRequest { .. }
    ));
    // Same From tag, Call-ID and CSeq, another branch: the request came back by another path.
    let incoming = layer.handle_request(now, options("z9hG4bKsecond", "same"), false);
    assert!(
        matches!(incoming, Incoming::Rejected { status: s, .. } if s.code() == 482),
        "{incoming:?}"
    );
    assert_eq!(sent_statuses(&drain(&mut layer)), vec![482]);
}

#[test]
fn max_forwards_zero_gets_483_except_options() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let mut req = invite("z9hG4bKmf");
    req.headers.replace(HeaderName::MaxForwards, "0");
    assert!(
        matches!(layer.handle_request(now, req, true), Incoming::Rejected { status: s, .. } if s.code() == 483)
    );
    let mut opt = options("z9hG4bKmf2", "t");
    opt.headers.replace(HeaderName::MaxForwards, "0");
    assert!(matches!(
        layer.handle_request(now, opt, true),
        Incoming::NewRequest { .. }
    ));
}

#[test]
fn rfc3261_17_2_3_rfc2543_requests_match_without_a_magic_cookie() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let old = options("oldstyle1", "t9");
    assert!(matches!(
        layer.handle_request(now, old.clone(), false),
        Incoming::NewRequest { .. }
    ));
    assert!(matches!(
        layer.handle_request(now, old, false),
        Incoming::Handled
    ));
}

#[test]
fn rfc3261_17_2_3_an_rfc2543_cancel_finds_its_invite_and_other_fields_are_other_requests() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    cancel_finds_invite(&mut layer, "oldinvite");
    // Same Via, From tag and CSeq, another Call-ID: not a retransmission.
    let mut other = options("oldstyle2", "t9");
    assert!(matches!(
        layer.handle_request(now, other.clone(), false),
        Incoming::NewRequest { .. }
    ));
    other.headers.replace(HeaderName::CallId, "another@host");
    assert!(matches!(
        layer.handle_request(now, other, false),
        Incoming::NewRequest { .. }
    ));
}

#[test]
fn rfc3261_17_1_3_responses_match_client_transactions_by_branch_and_method() {
    let now = Instant::now();
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let req = options("z9hG4bKclient", "me");
    let key = layer.send_request(now, req, false);
    assert!(key.is_some());
    let out = drain(&mut layer);
    assert!(matches!(
        out.first(),
        Some(LayerOutput::Transmit { bytes, .. }) if bytes.starts_with(b"OPTIONS ")
    ));
    let ok = response(
        "SIP/2.0 200 OK\n\
         Via: SIP/2.0/UDP 192.0.2.9:5060;branch=z9hG4bKclient\n\
         From: <sip:alice@example.com>;tag=me\n\
         To: <sip:pbx@192.0.2.1>;tag=you\n\
         Call-ID: opt-1@192.0.2.9\n\
         CSeq: 1 OPTIONS\n\
         Content-Length: 0\n\n",
    );
    assert!(matches!(
        layer.handle_response(now, ok.clone()),
        Incoming::Handled
    ));
    let events: Vec<_> = drain(&mut layer)
        .into_iter()
        .filter_map(|o| match o {
            LayerOutput::Event { event, .. } => Some(event),
            LayerOutput::Transmit { .. } => None,
        })
        .collect();
    assert!(matches!(events.first(), Some(TsxEvent::Response(_))));
    // Once the transaction is gone, the same response is stray.
    layer.handle_timeout(now + Duration::from_secs(6));
    let _ = drain(&mut layer);
    assert!(matches!(
        layer.handle_response(now, ok),
        Incoming::StrayResponse(_)
    ));
}

#[test]
fn requests_without_via_are_unusable() {
    let mut layer = TsxLayer::new(TimerConfig::default(), 7);
    let mut req = options("z9hG4bKx", "t");
    req.headers.remove(&HeaderName::Via);
    assert!(matches!(
        layer.handle_request(Instant::now(), req, false),
        Incoming::Unusable
    ));
}

#[test]
fn tags_are_distinct() {
    let mut layer = TsxLayer::new(TimerConfig::default(), 99);
    let a = layer.new_tag();
    let b = layer.new_tag();
    assert_ne!(a, b);
    assert_eq!(a.len(), 16);
}
